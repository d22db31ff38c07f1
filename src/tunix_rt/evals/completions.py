"""Reading a model's completion in the `Reasoning:` / `Answer:` layout the training formats use.

    Reasoning:
    1. {first step}
    2. {second step}
    Answer: {final answer}

`parse_completion` finds the final answer (the text of the last line that starts with `Answer:`,
leading spaces allowed; an `Answer:` inside a step line does not count), the numbered steps, and
whether the whole completion has the layout: the `Reasoning:` header, steps numbered 1, 2, ...
(a step may run over several lines), then exactly one `Answer:` line with a non-empty answer,
and nothing after it. Whether generation stopped at `<end_of_turn>` is the sampler's to say; a
completion's `format_ok` needs both (`evals.scoring.score_completion`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tunix_rt.formats.response import ANSWER_PREFIX, REASONING_HEADER

_ANSWER_LINE = re.compile(r"^[ \t]*" + re.escape(ANSWER_PREFIX.rstrip()) + r"(.*)$")
_STEP_LINE = re.compile(r"^(\d{1,4})\. (.*)$")


@dataclass(frozen=True)
class ParsedCompletion:
    answer: str | None  # the last `Answer:` line's text, stripped; None without one
    steps: tuple[str, ...]  # the numbered steps' texts, in order (continuation lines joined)
    layout_ok: bool  # the exact layout above


def parse_completion(text: str) -> ParsedCompletion:
    """The answer, steps and layout of one completion (without its `<end_of_turn>`)."""
    lines = text.split("\n")
    answer_rows = [row for row, line in enumerate(lines) if _ANSWER_LINE.match(line)]
    answer = None
    if answer_rows:
        match = _ANSWER_LINE.match(lines[answer_rows[-1]])
        assert match is not None
        answer = match.group(1).strip() or None
    body = lines[: answer_rows[0]] if answer_rows else lines
    steps, numbered_ok = _steps(body)
    layout_ok = (
        answer is not None
        and len(answer_rows) == 1
        and answer_rows[0] == len(lines) - 1
        and lines[-1].startswith(ANSWER_PREFIX)
        and numbered_ok
        and bool(steps)
    )
    return ParsedCompletion(answer=answer, steps=tuple(steps), layout_ok=layout_ok)


def _steps(body: list[str]) -> tuple[list[str], bool]:
    """The numbered steps after a `Reasoning:` header, and whether the block is well-formed:
    the header first, then step 1, and every numbered line the next number."""
    start = next((row for row, line in enumerate(body) if line == REASONING_HEADER), None)
    if start is None:
        return [], False
    well_formed = start == 0
    steps: list[str] = []
    for line in body[start + 1 :]:
        match = _STEP_LINE.match(line)
        if match is not None and int(match.group(1)) == len(steps) + 1:
            steps.append(match.group(2))
        elif steps:
            steps[-1] += "\n" + line
        else:
            well_formed = False
    cleaned = [step.strip() for step in steps]
    return [step for step in cleaned if step], well_formed and all(cleaned)
