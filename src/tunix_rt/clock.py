"""Time is UTC and timezone-aware: the current instant, and times as users give them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator


def utc_now() -> datetime:
    return datetime.now(UTC)


def _utc_unless_given(value: Any) -> Any:
    """A date means its midnight and a time without an offset means that time, both in UTC;
    anything else is left for the datetime validation to accept or refuse."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    return value


#: A time given by a user: ISO 8601, with an offset, or else (a date or a naive time) in UTC.
UserTime = Annotated[AwareDatetime, BeforeValidator(_utc_unless_given)]
