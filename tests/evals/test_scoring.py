"""Scorecards: Wilson intervals, majority vote and pass@n, breakdowns and deltas."""

from __future__ import annotations

import pytest

from tunix_rt.evals.schema import Scorecard
from tunix_rt.evals.scoring import (
    SampleScore,
    ScoredItem,
    breakdown,
    delta,
    group_label,
    group_values,
    majority_answer,
    scorecard,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Reference values (Wilson score interval, z = 1.96).
        (0, 10, 0.0, 0.27753),
        (10, 10, 0.72247, 1.0),
        (5, 10, 0.23659, 0.76341),
        (94, 100, 0.87522, 0.97222),
        (188, 200, 0.89807, 0.96535),
        (0, 0, 0.0, 0.0),
    ],
)
def test_wilson_interval(successes: int, trials: int, low: float, high: float) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=5e-5)


def sample(
    answer: str | None, correct: bool, *, format_ok: bool = True, tokens: int = 10
) -> SampleScore:
    return SampleScore(
        completion=f"Answer: {answer}",
        answer=answer,
        correct=correct,
        format_ok=format_ok,
        output_tokens=tokens,
    )


def test_majority_vote_and_pass_at_n() -> None:
    items = [
        ScoredItem(0, (sample("5", True), sample("5", True), sample("6", False)), ("add",)),
        ScoredItem(1, (sample("6", False), sample("7", True), sample("6", False)), ("add",)),
        ScoredItem(2, (sample(None, False), sample("8", True), sample(None, False)), ("sub",)),
        ScoredItem(3, (sample("1", False), sample("2", False), sample("3", False)), ("sub",)),
    ]
    # An item without any answer never wins a vote against an answer; ties go to the first.
    assert majority_answer(items[2].samples).answer == "8"
    assert majority_answer(items[3].samples).answer == "1"
    card = scorecard(items, group_keys=["operation"], generation_seconds=2.0, wall_seconds=3.0)
    assert (card.items, card.samples_per_item, card.correct) == (4, 3, 4)
    assert card.accuracy == pytest.approx(4 / 12)
    assert card.majority_accuracy == pytest.approx(2 / 4)
    assert card.pass_at_n == pytest.approx(3 / 4)
    assert card.tokens_per_second == pytest.approx(120 / 2.0)
    assert [(g.values, g.samples, g.correct) for g in card.groups] == [
        (["add"], 6, 3),
        (["sub"], 6, 1),
    ]
    assert (card.accuracy_low, card.accuracy_high) == pytest.approx(wilson_interval(4, 12))


def test_single_samples_and_delta() -> None:
    trained = scorecard(
        [
            ScoredItem(0, (sample("1", True),), ("add", 2)),
            ScoredItem(1, (sample("2", True, format_ok=False),), ("add", 3)),
            ScoredItem(2, (sample("3", False),), ("add", 3)),
        ],
        group_keys=["operation", "digits"],
        generation_seconds=1.0,
        wall_seconds=1.5,
    )
    base = scorecard(
        [
            ScoredItem(0, (sample(None, False, format_ok=False, tokens=64),), ("add", 2)),
            ScoredItem(1, (sample(None, False, format_ok=False, tokens=64),), ("add", 3)),
            ScoredItem(2, (sample("3", True, format_ok=False, tokens=64),), ("add", 3)),
        ],
        group_keys=["operation", "digits"],
        generation_seconds=1.0,
        wall_seconds=1.5,
    )
    assert trained.majority_accuracy is None and trained.pass_at_n is None
    assert trained.format_rate == pytest.approx(2 / 3)
    change = delta(trained, base)
    assert change.accuracy == pytest.approx(2 / 3 - 1 / 3)
    assert change.format_rate == pytest.approx(2 / 3)
    assert change.mean_output_tokens == pytest.approx(10 - 64)
    assert [(g.values, g.accuracy) for g in change.groups] == [
        (["add", 2], pytest.approx(1.0)),
        (["add", 3], pytest.approx(0.0)),
    ]


def test_group_values_take_json_scalars_only() -> None:
    meta = {"operation": "add", "digits": 3, "operands": [1, 2]}
    assert group_values(meta, ["operation", "digits", "operands", "missing"]) == (
        "add",
        3,
        None,
        None,
    )


def test_breakdown_puts_the_base_beside_each_group() -> None:
    def card(items: list[ScoredItem]) -> Scorecard:
        return scorecard(
            items, group_keys=["operation", "digits"], generation_seconds=1, wall_seconds=1
        )

    trained = card(
        [
            ScoredItem(0, (sample("1", True),), ("add", 2)),
            ScoredItem(1, (sample("2", True),), ("add", 3)),
            ScoredItem(2, (sample("3", False),), ("add", 3)),
            ScoredItem(3, (sample("4", True),), ("sub", None)),
        ]
    )
    base = card(
        [
            ScoredItem(0, (sample("1", False),), ("add", 2)),
            ScoredItem(1, (sample("2", True),), ("add", 3)),
        ]
    )
    rows = breakdown(trained, base)
    assert [(r.label, r.trained.accuracy, r.base_accuracy, r.delta_accuracy) for r in rows] == [
        ("add \u00b7 2", 1.0, 0.0, 1.0),
        ("add \u00b7 3", 0.5, 1.0, -0.5),
        ("sub \u00b7 \u2013", 1.0, None, None),
    ]
    assert [(r.label, r.base_accuracy, r.delta_accuracy) for r in breakdown(trained, None)] == [
        ("add \u00b7 2", None, None),
        ("add \u00b7 3", None, None),
        ("sub \u00b7 \u2013", None, None),
    ]
    assert group_label(["high", True]) == "high \u00b7 True"
