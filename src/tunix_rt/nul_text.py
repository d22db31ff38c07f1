"""Text holding the NUL character (U+0000), which PostgreSQL cannot store in text or JSONB
(SQLite can): every front door refuses it the same way on either database, naming where it is.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ESCAPED_NUL", "MESSAGE", "NUL", "find_nul"]

NUL = "\x00"
MESSAGE = "Text must not contain the NUL character (U+0000)"
#: How JSON writes it (a raw NUL byte is not valid JSON): a cheap test before parsing.
ESCAPED_NUL = b"\\u0000"


def find_nul(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where the first NUL is in parsed JSON `value` (keys included), below `loc`; else None."""
    if isinstance(value, str):
        return loc if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                return (*loc, key)
            found = find_nul(item, (*loc, key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_nul(item, (*loc, index))
            if found is not None:
                return found
    return None
