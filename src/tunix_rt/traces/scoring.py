"""Trace scoring criteria."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from tunix_rt.errors import InvalidInputError
from tunix_rt.evals.answers import answer_match, expected_answer_of
from tunix_rt.traces.schema import ReasoningTrace

Criteria = Literal["baseline", "answer_match"]


class ScoreResult(BaseModel):
    """A score in 0-100 and what it was made of."""

    score: float
    details: dict[str, Any]


def baseline_score(trace: ReasoningTrace, *, now: datetime | None = None) -> ScoreResult:
    """More steps (up to 10) and longer steps (up to 500 chars on average) score higher.

    `step_score = min(step_count / 10, 1) * 50` and
    `length_score = min(avg_step_length / 500, 1) * 50`.
    """
    step_count = len(trace.steps)
    total_chars = sum(len(step.content) for step in trace.steps)
    avg_step_length = total_chars / step_count if step_count else 0.0
    step_score = min(step_count / 10, 1.0) * 50
    length_score = min(avg_step_length / 500, 1.0) * 50
    return ScoreResult(
        score=step_score + length_score,
        details={
            "criteria": "baseline",
            "step_count": step_count,
            "avg_step_length": avg_step_length,
            "total_chars": total_chars,
            "step_score": step_score,
            "length_score": length_score,
            "scored_at": (now or datetime.now(UTC)).isoformat(),
        },
    )


def answer_match_score(trace: ReasoningTrace, *, now: datetime | None = None) -> ScoreResult:
    """100 when `final_answer` equals `meta.expected_answer` after normalisation, else 0.

    Normalisation is `evals.answers.normalize_answer` (case, whitespace, one trailing period,
    thousands separators). A trace without an expected answer raises `InvalidInputError`.
    """
    expected = expected_answer_of(trace.meta)
    if expected is None:
        raise InvalidInputError(
            "criteria answer_match needs meta.expected_answer (a non-empty string or an "
            "integer) and this trace has none; use criteria baseline",
            loc=("criteria",),
        )
    match = answer_match(trace.final_answer, expected)
    return ScoreResult(
        score=match.score,
        details={
            "criteria": "answer_match",
            "expected_answer": expected,
            "final_answer": trace.final_answer,
            "normalized_expected": match.normalized_expected,
            "normalized_final_answer": match.normalized_generated,
            "matched": match.matched,
            "scored_at": (now or datetime.now(UTC)).isoformat(),
        },
    )


def score_trace(trace: ReasoningTrace, criteria: Criteria) -> ScoreResult:
    """Score `trace` under `criteria`."""
    if criteria == "baseline":
        return baseline_score(trace)
    if criteria == "answer_match":
        return answer_match_score(trace)
    raise AssertionError(f"unhandled criteria {criteria!r}")  # pragma: no cover
