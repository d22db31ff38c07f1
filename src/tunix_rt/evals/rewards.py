"""Verifiable rewards for reinforcement learning: a completion scored against what the product
knows about its prompt (the expected answer, the generator's own worked solution).

Every reward maps one `RewardInput` to a float; a run manifest's `rewards` list names them
with weights, and a GRPO run trains on their weighted sum:

- `answer`: 1 when the extracted answer matches the expected one (`answer_match`), else 0;
- `format`: 1 when the completion has the `Reasoning:` / `Answer:` layout and generation stopped
  at `<end_of_turn>`, else 0 (the evaluation loop's `format_ok`);
- `steps`: partial credit, the share of step positions where the completion says what the
  reference solution says at that step (over the longer of the two step lists, so a missing or
  extra step costs its share): for arithmetic, each column line; a problem the model never
  fully solves still gives a signal;
- `length`: a penalty, 0 up to the reference's length, then falling linearly to -1 at twice
  its length (a completion that ran to the token limit without an answer gets -1).

A completion is the generated text; it ends in `<end_of_turn>` when generation stopped there
(the rollout appends it), so a text cut off at the token limit is told apart from one that ended.
No JAX: the rewards are plain functions, scored over a table of completions in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tunix_rt.evals.answers import answer_match
from tunix_rt.evals.completions import parse_completion
from tunix_rt.formats.gemma import END_OF_TURN


@dataclass(frozen=True)
class RewardInput:
    """One completion and what its prompt's answer is known to be."""

    completion: str  # generated text, ending in `<end_of_turn>` when generation stopped there
    expected: str  # the expected final answer
    reference: str  # the reference completion (the trace's own response), `<end_of_turn>` or not


@dataclass(frozen=True)
class Reward:
    name: str
    description: str
    score: Callable[[RewardInput], float]


def split_end(text: str) -> tuple[str, bool]:
    """The text before `<end_of_turn>` and whether it was there (trailing newline allowed)."""
    stripped = text.rstrip("\n")
    if stripped.endswith(END_OF_TURN):
        return stripped[: -len(END_OF_TURN)], True
    return text, False


def answer_reward(item: RewardInput) -> float:
    answer = parse_completion(split_end(item.completion)[0]).answer
    return 1.0 if answer is not None and answer_match(answer, item.expected).matched else 0.0


def format_reward(item: RewardInput) -> float:
    body, stopped = split_end(item.completion)
    return 1.0 if stopped and parse_completion(body).layout_ok else 0.0


def steps_reward(item: RewardInput) -> float:
    generated = parse_completion(split_end(item.completion)[0]).steps
    reference = parse_completion(split_end(item.reference)[0]).steps
    longest = max(len(generated), len(reference))
    if not longest:
        return 0.0
    agree = sum(
        _same_step(mine, theirs) for mine, theirs in zip(generated, reference, strict=False)
    )
    return agree / longest


def length_reward(item: RewardInput) -> float:
    body, stopped = split_end(item.completion)
    reference = len(split_end(item.reference)[0])
    if not stopped and parse_completion(body).answer is None:
        return -1.0
    if reference == 0:
        return 0.0
    over = len(body) - reference
    return -min(1.0, max(0.0, over / reference))


def _same_step(generated: str, reference: str) -> bool:
    return " ".join(generated.split()) == " ".join(reference.split())


REWARDS: dict[str, Reward] = {
    reward.name: reward
    for reward in (
        Reward("answer", "1 when the extracted answer matches the expected one", answer_reward),
        Reward(
            "format",
            "1 for the Reasoning:/Answer: layout ending at <end_of_turn>",
            format_reward,
        ),
        Reward(
            "steps",
            "the share of steps that agree with the reference solution, step by step",
            steps_reward,
        ),
        Reward(
            "length",
            "0 up to the reference's length, falling to -1 at twice it",
            length_reward,
        ),
    )
}


def reward_names() -> tuple[str, ...]:
    return tuple(REWARDS)


__all__ = [
    "REWARDS",
    "Reward",
    "RewardInput",
    "answer_reward",
    "format_reward",
    "length_reward",
    "reward_names",
    "split_end",
    "steps_reward",
]
