"""Two traces side by side: their steps aligned row by row."""

from __future__ import annotations

from dataclasses import dataclass

from tunix_rt.traces.schema import ReasoningTrace, TraceStep


@dataclass(frozen=True)
class StepRow:
    """One row of a side-by-side view: the step index and each trace's step of that index
    (None where a trace has no such step)."""

    index: int
    base: TraceStep | None
    other: TraceStep | None


def aligned_steps(base: ReasoningTrace, other: ReasoningTrace) -> list[StepRow]:
    """A row per step index either trace has (`TraceStep.i`), in index order."""
    base_steps = {step.i: step for step in base.steps}
    other_steps = {step.i: step for step in other.steps}
    return [
        StepRow(index, base_steps.get(index), other_steps.get(index))
        for index in sorted(base_steps.keys() | other_steps.keys())
    ]
