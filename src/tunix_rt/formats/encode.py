"""One record → one JSON Lines line.

Determinism: keys are written in the order the record holds them (`OPT_SORT_KEYS` is *not*
used). Every renderer builds its record with a fixed, documented field order, and the only
free-form part of a trace, `meta`, is already canonical text (see `metadata.py`), so the same
trace always gives the same bytes. orjson writes UTF-8 without escaping non-ASCII text, escapes
control characters (so a line never contains a raw newline), and writes floats in their
shortest round-tripping form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from tunix_rt.formats.errors import RecordEncodeError

_OPTIONS = orjson.OPT_APPEND_NEWLINE


def encode_line(record: dict[str, Any]) -> bytes:
    """`record` as compact UTF-8 JSON followed by `\\n`.

    Raises RecordEncodeError for values JSON cannot carry (a lone UTF-16 surrogate in a
    string, an integer beyond 64 bits, a non-JSON type).
    """
    try:
        return orjson.dumps(record, option=_OPTIONS)
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise RecordEncodeError(f"cannot encode export record: {exc}") from exc


def encode_lines(records: Sequence[dict[str, Any]]) -> bytes:
    """`encode_line` of every record, joined: one call per batch on the export hot path.

    Raises RecordEncodeError as `encode_line` does.
    """
    dumps, option = orjson.dumps, _OPTIONS
    try:
        return b"".join([dumps(record, option=option) for record in records])
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise RecordEncodeError(f"cannot encode export record: {exc}") from exc
