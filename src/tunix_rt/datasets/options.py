"""Build options written as text, as the CLI's options and the web UI's build form take them:
`NAME=VALUE` pairs (splits, meta filters, a minimum score) and meta values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from tunix_rt.errors import InvalidInputError


def pairs(texts: Iterable[str], *, field: str, form: str = "NAME=VALUE") -> dict[str, str]:
    """`NAME=VALUE` texts as a dict, spaces around names and values dropped and blank texts
    skipped; a text without `=` or without a name is an InvalidInputError naming `field`."""
    found: dict[str, str] = {}
    for text in filter(None, (t.strip() for t in texts)):
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"takes {form}, got {text!r}", loc=tuple(field.split(".")))
        found[name.strip()] = value.strip()
    return found


def meta_value(text: str) -> Any:
    """A meta filter's value: integers, floats, true/false/null as JSON reads them; else text."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return value if isinstance(value, int | float | bool | type(None)) else text
