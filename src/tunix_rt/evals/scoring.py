"""Scoring generated completions: per completion, per item, and the scorecard of a whole set.

A completion is `correct` when its extracted answer matches the expected one (`answer_match`),
and `format_ok` when it has the `Reasoning:` / `Answer:` layout and generation stopped at
`<end_of_turn>`. Accuracy comes with a 95% Wilson score interval; with several samples per item
the scorecard also gives the majority-vote accuracy and pass@n.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunix_rt.evals.answers import answer_match, normalize_answer
from tunix_rt.evals.completions import parse_completion
from tunix_rt.evals.schema import (
    BreakdownRow,
    GroupDelta,
    GroupScore,
    Scorecard,
    ScorecardDelta,
)

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class SampleScore:
    """One generated completion, scored."""

    completion: str
    answer: str | None
    correct: bool
    format_ok: bool
    output_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "completion": self.completion,
            "answer": self.answer,
            "correct": self.correct,
            "format_ok": self.format_ok,
            "output_tokens": self.output_tokens,
        }


def score_completion(
    completion: str, *, expected: str, stopped: bool, output_tokens: int
) -> SampleScore:
    """Extract the answer of `completion` and check it and its layout."""
    parsed = parse_completion(completion)
    correct = parsed.answer is not None and answer_match(parsed.answer, expected).matched
    return SampleScore(
        completion=completion,
        answer=parsed.answer,
        correct=correct,
        format_ok=parsed.layout_ok and stopped,
        output_tokens=output_tokens,
    )


@dataclass(frozen=True)
class ScoredItem:
    """Every sample of one item. The item's own fields are its first sample's."""

    index: int
    samples: tuple[SampleScore, ...]
    group: tuple[Any, ...]  # the values of the scorecard's group keys

    @property
    def first(self) -> SampleScore:
        return self.samples[0]

    @property
    def majority_correct(self) -> bool:
        """The most frequent extracted answer (normalised; ties: the earliest) is correct."""
        return majority_answer(self.samples).correct

    @property
    def any_correct(self) -> bool:
        return any(sample.correct for sample in self.samples)


def majority_answer(samples: Sequence[SampleScore]) -> SampleScore:
    """The sample carrying the most frequent normalised answer (no answer never wins while
    another answer exists; ties go to the answer seen first)."""
    answered = [s for s in samples if s.answer is not None] or list(samples)
    counts = Counter(normalize_answer(s.answer or "") for s in answered)
    best = max(counts.values())
    return next(s for s in answered if counts[normalize_answer(s.answer or "")] == best)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (0, 0 for no trials)."""
    if trials == 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _rate(flags: Iterable[bool]) -> tuple[int, int]:
    values = list(flags)
    return sum(values), len(values)


def scorecard(
    items: Sequence[ScoredItem],
    *,
    group_keys: Sequence[str],
    generation_seconds: float,
    wall_seconds: float,
) -> Scorecard:
    """Aggregates over `items` (at least one). Accuracy and format rate count every sample."""
    samples = [sample for item in items for sample in item.samples]
    correct, total = _rate(s.correct for s in samples)
    formatted, _ = _rate(s.format_ok for s in samples)
    low, high = wilson_interval(correct, total)
    tokens = sum(s.output_tokens for s in samples)
    per_item = len(items[0].samples) if items else 1
    majority = pass_at_n = None
    if per_item > 1:
        majority = sum(item.majority_correct for item in items) / len(items)
        pass_at_n = sum(item.any_correct for item in items) / len(items)
    return Scorecard(
        items=len(items),
        samples_per_item=per_item,
        correct=correct,
        accuracy=correct / total if total else 0.0,
        accuracy_low=low,
        accuracy_high=high,
        format_rate=formatted / total if total else 0.0,
        mean_output_tokens=tokens / total if total else 0.0,
        tokens_per_second=tokens / generation_seconds if generation_seconds > 0 else 0.0,
        generation_seconds=generation_seconds,
        wall_seconds=wall_seconds,
        majority_accuracy=majority,
        pass_at_n=pass_at_n,
        group_keys=list(group_keys),
        groups=_groups(items) if group_keys else [],
    )


def _groups(items: Sequence[ScoredItem]) -> list[GroupScore]:
    by_group: dict[tuple[Any, ...], list[SampleScore]] = {}
    for item in items:
        by_group.setdefault(item.group, []).extend(item.samples)
    groups = []
    for key in sorted(by_group, key=lambda k: tuple((v is None, str(v)) for v in k)):
        samples = by_group[key]
        correct, total = _rate(s.correct for s in samples)
        formatted, _ = _rate(s.format_ok for s in samples)
        low, high = wilson_interval(correct, total)
        groups.append(
            GroupScore(
                values=list(key),
                samples=total,
                correct=correct,
                accuracy=correct / total,
                accuracy_low=low,
                accuracy_high=high,
                format_rate=formatted / total,
            )
        )
    return groups


def group_values(meta: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """The values of `keys` in an item's meta (None where absent), JSON scalars only."""
    values = []
    for key in keys:
        value = meta.get(key)
        values.append(value if isinstance(value, str | int | float | bool) else None)
    return tuple(values)


def delta(trained: Scorecard, base: Scorecard) -> ScorecardDelta:
    """trained - base, overall and for every group both have."""
    base_groups = {tuple(g.values): g for g in base.groups}
    return ScorecardDelta(
        accuracy=trained.accuracy - base.accuracy,
        format_rate=trained.format_rate - base.format_rate,
        mean_output_tokens=trained.mean_output_tokens - base.mean_output_tokens,
        groups=[
            GroupDelta(values=g.values, accuracy=g.accuracy - base_groups[tuple(g.values)].accuracy)
            for g in trained.groups
            if tuple(g.values) in base_groups
        ],
    )


#: What a breakdown label shows for a group value the item lacked.
NO_VALUE = "\u2013"


def group_label(values: Sequence[Any]) -> str:
    """`["add", 2]` -> `add · 2`; a missing value is an en dash."""
    return " \u00b7 ".join(NO_VALUE if value is None else str(value) for value in values)


def breakdown(trained: Scorecard, base: Scorecard | None) -> list[BreakdownRow]:
    """The trained scorecard's groups in its order, each with the base's accuracy of the same
    group and the difference (None where the base lacks the group or was not evaluated)."""
    base_groups = {tuple(g.values): g for g in base.groups} if base is not None else {}
    rows = []
    for group in trained.groups:
        theirs = base_groups.get(tuple(group.values))
        rows.append(
            BreakdownRow(
                label=group_label(group.values),
                trained=group,
                base_accuracy=None if theirs is None else theirs.accuracy,
                delta_accuracy=None if theirs is None else group.accuracy - theirs.accuracy,
            )
        )
    return rows
