"""A trace as the columns of its `traces` row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tunix_rt.db.functions import rank_key_of
from tunix_rt.traces.schema import ReasoningTrace

PAYLOAD_FIELDS: set[str] = set(ReasoningTrace.model_fields)


def trace_row(
    trace: ReasoningTrace,
    *,
    created_at: datetime,
    trace_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The column values that store `trace` (a new id unless given; `payload_json` is text)."""
    trace_id = trace_id or uuid.uuid4()
    return {
        "id": trace_id,
        "created_at": created_at,
        "trace_version": trace.trace_version,
        "source": trace.source,
        "prompt": trace.prompt,
        "final_answer": trace.final_answer,
        "step_count": len(trace.steps),
        "char_count": char_count(
            trace.prompt, trace.final_answer, [s.content for s in trace.steps]
        ),
        "payload_json": trace.model_dump_json(include=PAYLOAD_FIELDS),
        "rank_key": rank_key_of(trace_id),
    }


def char_count(prompt: str, final_answer: str, step_contents: Sequence[str]) -> int:
    """A trace's size in characters, as stored in `traces.char_count`: prompt, steps, answer."""
    return len(prompt) + len(final_answer) + sum(map(len, step_contents))
