"""The JSON Lines form of a trace that `tunix-rt traces import` reads (no database needed)."""

from __future__ import annotations

from typing import Any

import orjson


def trace_line(record: dict[str, Any]) -> bytes:
    """One JSON Lines line that `tunix-rt traces import` reads: keys sorted at every level, so
    the bytes do not depend on how the database stores JSON (PostgreSQL's JSONB reorders keys).
    """
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
