"""Template filters: numbers, times and sizes as a reader wants them in a table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

#: What a table shows for a missing figure (an en dash).
MISSING = "\u2013"


def number(value: float | int | None, digits: int = 0) -> str:
    """`1234567` → `1,234,567`; `0.12345, 3` → `0.123`; None → an en dash."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: `0.985` → `98.5 %`."""
    if value is None:
        return MISSING
    return f"{value * 100:.{digits}f} %"


def signed_percent(value: float | None, digits: int = 1) -> str:
    """A difference of shares, signed: `0.12` → `+12.0 pt`."""
    if value is None:
        return MISSING
    return f"{value * 100:+.{digits}f} pt"


def loss(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.4f}" if value < 10 else f"{value:.2f}"


def when(value: datetime | None) -> str:
    """A time as `2026-12-01 15:42 UTC` (seconds left out: tables stay narrow)."""
    if value is None:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | timedelta | None) -> str:
    """`75` → `1 min 15 s`; `3725` → `1 h 2 min`; under a minute with one decimal."""
    if seconds is None:
        return MISSING
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def size(value: int | None) -> str:
    """Bytes in the largest unit that keeps the figure at or above 1: `1536` → `1.5 KiB`."""
    if value is None:
        return MISSING
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def short_id(value: Any) -> str:
    """The first 8 characters of an id, as people quote them."""
    return str(value)[:8]


FILTERS: dict[str, Callable[..., str]] = {
    "number": number,
    "percent": percent,
    "signed_percent": signed_percent,
    "loss": loss,
    "when": when,
    "duration": duration,
    "size": size,
    "short_id": short_id,
}
