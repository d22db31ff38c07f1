"""The model response shared by the training formats: a numbered `Reasoning:` block + `Answer:`.

    Reasoning:
    1. {first step}
    2. {second step}
    Answer: {final answer}

A trace without steps renders as the single line `Answer: {final answer}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

REASONING_HEADER = "Reasoning:"
ANSWER_PREFIX = "Answer: "

_step_index = itemgetter("i")
# "\n1. ", "\n2. ", ...: the line openers of the numbered steps, made once (formatting each
# number per step was a tenth of the whole `tunix_sft` render time).
_STEP_OPENERS = tuple(f"\n{number}. " for number in range(1, 257))


def sorted_steps(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The payload's steps ordered by `i` (a missing or empty `steps` gives `[]`)."""
    steps: list[Mapping[str, Any]] = payload.get("steps") or []
    previous = -1
    for step in steps:
        index: int = step["i"]
        if index <= previous:
            return sorted(steps, key=_step_index)
        previous = index
    return steps


def step_texts(payload: Mapping[str, Any]) -> list[str]:
    """The contents of the payload's steps, ordered by `i`."""
    return [step["content"] for step in sorted_steps(payload)]


def reasoning_response(steps: Sequence[str], final_answer: str) -> str:
    """The response text for `steps` (already ordered) and `final_answer`, untrimmed."""
    if not steps:
        return ANSWER_PREFIX + final_answer
    parts = [REASONING_HEADER]
    for number, text in enumerate(steps, 1):
        parts.append(_STEP_OPENERS[number - 1] if number <= len(_STEP_OPENERS) else f"\n{number}. ")
        parts.append(text)
    parts.append("\n" + ANSWER_PREFIX)
    parts.append(final_answer)
    return "".join(parts)
