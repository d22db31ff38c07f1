"""The verifiable rewards over a table of completions: right, wrong, malformed, empty, cut off,
over-long."""

from __future__ import annotations

import pytest

from tunix_rt.evals.rewards import (
    REWARDS,
    RewardInput,
    answer_reward,
    format_reward,
    length_reward,
    split_end,
    steps_reward,
)
from tunix_rt.formats.response import reasoning_response
from tunix_rt.generators.arithmetic import addition_steps

EOT = "<end_of_turn>"
STEPS, RESULT = addition_steps(47, 38)
REFERENCE_STEPS = [text for _, text in STEPS]
REFERENCE = reasoning_response(REFERENCE_STEPS, str(RESULT)) + EOT + "\n"


def completion(steps: list[str], answer: str, *, stopped: bool = True) -> str:
    return reasoning_response(steps, answer) + (EOT if stopped else "")


def wrong_column(steps: list[str]) -> list[str]:
    """The reference with its ones column miscomputed."""
    return [steps[0], "Ones: 7 + 8 + carry 0 = 14, write 4, carry 1.", *steps[2:]]


RIGHT = completion(REFERENCE_STEPS, "85")
CASES = {
    # name: (completion, answer, format, steps, length)
    "right": (RIGHT, 1.0, 1.0, 1.0, 0.0),
    "right, newline after the end": (RIGHT + "\n", 1.0, 1.0, 1.0, 0.0),
    "wrong answer, right steps": (completion(REFERENCE_STEPS, "86"), 0.0, 1.0, 1.0, 0.0),
    "one column wrong": (
        completion(wrong_column(REFERENCE_STEPS), "84"),
        0.0,
        1.0,
        (len(REFERENCE_STEPS) - 1) / len(REFERENCE_STEPS),
        0.0,
    ),
    "answer only": ("Answer: 85" + EOT, 1.0, 0.0, 0.0, 0.0),
    "cut off before the answer": (
        completion(REFERENCE_STEPS[:2], "", stopped=False).removesuffix("\nAnswer: "),
        0.0,
        0.0,
        2 / len(REFERENCE_STEPS),
        -1.0,
    ),
    "cut off after the answer": (
        completion(REFERENCE_STEPS, "85", stopped=False),
        1.0,
        0.0,
        1.0,
        0.0,
    ),
    "empty": ("", 0.0, 0.0, 0.0, -1.0),
    "empty, stopped": (EOT, 0.0, 0.0, 0.0, 0.0),
    "no Reasoning: header": (RIGHT.removeprefix("Reasoning:\n"), 1.0, 0.0, 0.0, 0.0),
    "misnumbered steps": (
        # a line numbered out of turn continues the step before it: one long first step
        RIGHT.replace("\n2. ", "\n3. "),
        1.0,
        1.0,
        0.0,
        0.0,
    ),
    "over-long: twice the reference": (
        completion([*REFERENCE_STEPS, *REFERENCE_STEPS], "85"),
        1.0,
        1.0,
        0.5,
        None,  # checked below: between -1 and -0.9
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rewards_over_a_table_of_completions(name: str) -> None:
    text, answer, form, steps, length = CASES[name]
    item = RewardInput(completion=text, expected="85", reference=REFERENCE)
    assert answer_reward(item) == answer
    assert format_reward(item) == form
    assert steps_reward(item) == pytest.approx(steps)
    if length is None:
        assert -1.0 <= length_reward(item) <= -0.9
    else:
        assert length_reward(item) == length


def test_the_length_penalty_grows_linearly_past_the_reference() -> None:
    body = split_end(REFERENCE)[0]
    half_more = body + "x" * (len(body) // 2)
    item = RewardInput(completion=half_more + EOT, expected="85", reference=REFERENCE)
    assert length_reward(item) == pytest.approx(-(len(body) // 2) / len(body))
    triple = RewardInput(completion=body * 3 + EOT, expected="85", reference=REFERENCE)
    assert length_reward(triple) == -1.0


def test_answers_match_after_normalisation() -> None:
    item = RewardInput(completion="Answer: 1,085." + EOT, expected="1085", reference="")
    assert answer_reward(item) == 1.0


def test_steps_compare_whitespace_insensitively_and_not_by_position_only() -> None:
    spaced = [step.replace(" ", "  ") for step in REFERENCE_STEPS]
    item = RewardInput(completion=completion(spaced, "85"), expected="85", reference=REFERENCE)
    assert steps_reward(item) == 1.0
    shifted = RewardInput(
        completion=completion(REFERENCE_STEPS[1:], "85"), expected="85", reference=REFERENCE
    )
    assert steps_reward(shifted) == 0.0
    no_reference = RewardInput(completion=RIGHT, expected="85", reference="Answer: 85")
    assert steps_reward(no_reference) == 0.0


def test_the_registry_names_every_reward() -> None:
    assert list(REWARDS) == ["answer", "format", "steps", "length"]
    item = RewardInput(completion=RIGHT, expected="85", reference=REFERENCE)
    assert {name: reward.score(item) for name, reward in REWARDS.items()} == {
        "answer": 1.0,
        "format": 1.0,
        "steps": 1.0,
        "length": 0.0,
    }
