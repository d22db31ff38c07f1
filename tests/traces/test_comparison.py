"""`traces.comparison`: two traces' steps aligned by their index."""

from __future__ import annotations

from helpers.factories import make_trace
from tunix_rt.traces.comparison import StepRow, aligned_steps
from tunix_rt.traces.schema import ReasoningTrace, TraceStep


def _step(i: int, content: str) -> TraceStep:
    return TraceStep(i=i, type="reasoning", content=content)


def test_steps_are_aligned_by_index_with_gaps_left_empty() -> None:
    base = ReasoningTrace.model_validate(
        make_trace(steps=[_step(2, "b2").model_dump(), _step(0, "b0").model_dump()])
    )
    other = ReasoningTrace.model_validate(
        make_trace(steps=[_step(0, "o0").model_dump(), _step(1, "o1").model_dump()])
    )
    assert aligned_steps(base, other) == [
        StepRow(0, _step(0, "b0"), _step(0, "o0")),
        StepRow(1, None, _step(1, "o1")),
        StepRow(2, _step(2, "b2"), None),
    ]
