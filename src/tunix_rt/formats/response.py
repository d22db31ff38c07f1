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
    body = "\n".join([f"{number}. {text}" for number, text in enumerate(steps, 1)])
    return f"{REASONING_HEADER}\n{body}\n{ANSWER_PREFIX}{final_answer}"
