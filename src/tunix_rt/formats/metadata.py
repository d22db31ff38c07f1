"""The `metadata` object carried by export records.

Shape, identical for every trace so that one Arrow schema fits a whole file:

    {"trace_id": "<uuid>", "source": "<meta.source>" | null, "meta_json": "<canonical JSON>"}

The trace's free-form `meta` travels as canonical JSON *text* (sorted keys at every depth,
compact separators, UTF-8) rather than as a nested object. Hugging Face `datasets` infers one
Arrow schema for a JSON Lines file; with free-form metas that differ between traces in the type
of a key (`{"difficulty": 3}` next to `{"difficulty": "hard"}`, an object next to a list, ...)
`datasets` 4.x fails to load the file (`DatasetGenerationError`, from an Arrow cast error), and
even when keys merely differ it pads every row with every other row's keys as nulls. A string
column loads everywhere and round-trips exactly with `json.loads`. `source` (the indexed
`meta.source`, when it is a string) is copied out for easy filtering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

EMPTY_META_JSON = "{}"


def canonical_meta_json(meta: Mapping[str, Any] | None) -> str:
    """`meta` as canonical JSON text: keys sorted at every depth, no whitespace, UTF-8.

    An absent or empty meta gives `{}`.
    """
    if not meta:
        return EMPTY_META_JSON
    try:
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits; the standard library does not.
        return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_metadata(trace_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The `metadata` object of one export record."""
    meta = payload.get("meta")
    source = meta.get("source") if meta else None
    return {
        "trace_id": trace_id,
        "source": source if isinstance(source, str) else None,
        "meta_json": canonical_meta_json(meta),
    }
