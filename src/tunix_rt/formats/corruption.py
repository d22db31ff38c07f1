"""Corrupted traces: the deterministic wrong completions a `preference` record rejects when no
model output of an evaluation is wrong for its prompt.

A trace is corrupted in one of two ways, chosen from its id (so that the same trace always gives
the same bytes):

* `corrupted_answer`: the final answer is replaced by a wrong one. An answer with digits has one
  digit changed (a number stays a number, and a leading digit never becomes 0); an answer without
  digits becomes its opposite (yes / no, true / false), else another option the prompt offers
  (`win, loss or tie`), else another word of the prompt written the same way (a name for a
  name), else `not {answer}`. The result never matches
  the expected answer under `evals.answers.answer_match`.
* `corrupted_step`: one step that holds a digit has one digit changed (an arithmetic column line
  `Ones: 3 + 4 + carry 0 = 7, ...` then no longer adds up); the answer stays. Traces without
  such a step have their answer corrupted instead.

Every choice is drawn from sha256 of the trace id and a counter, not from `random`, so the draws
are the same on every Python version.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from tunix_rt.evals.answers import answer_match

CorruptionKind = Literal["corrupted_answer", "corrupted_step"]

_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
# "a, b or c" / "a or b": the options a question offers (the last such list in the prompt).
_OPTIONS = re.compile(r"((?:[^\W\d_][\w'-]*, )*[^\W\d_][\w'-]*),? or ([^\W\d_][\w'-]*)")
_OPPOSITES = {"yes": "no", "no": "yes", "true": "false", "false": "true"}
# Words too common to pass for an answer when another word of the prompt is taken.
_FUNCTION_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from", "has", "have",
    "how", "if", "in", "is", "it", "its", "of", "on", "or", "so", "than", "that", "the", "their",
    "then", "there", "this", "to", "was", "what", "when", "where", "which", "who", "whom",
    "whose", "why", "with",
))  # fmt: skip


@dataclass(frozen=True)
class Corruption:
    """A corrupted copy of a trace's steps (ordered) and final answer."""

    kind: CorruptionKind
    step: int | None  # the corrupted step's number (1-based, as the `Reasoning:` list numbers it)
    steps: list[str]
    final_answer: str


class _Draws:
    """Integers drawn from sha256 of a seed and a counter."""

    def __init__(self, seed: str) -> None:
        self._seed = seed
        self._count = 0

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        self._count += 1
        digest = hashlib.sha256(f"{self._seed}:{self._count}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % n


def corrupt(
    trace_id: str, prompt: str, steps: list[str], final_answer: str, expected: str
) -> Corruption:
    """The corruption of a trace (`steps` ordered by index) whose expected answer is
    `expected`, drawn from `trace_id`."""
    draws = _Draws(f"tunix-rt preference:{trace_id}")
    step_drawn = draws.below(2) == 1
    with_digits = [number for number, text in enumerate(steps, 1) if _DIGIT.search(text)]
    if with_digits and step_drawn:
        number = with_digits[draws.below(len(with_digits))]
        changed = list(steps)
        changed[number - 1] = next(_digit_changes(steps[number - 1], draws))
        return Corruption("corrupted_step", number, changed, final_answer)
    wrong = wrong_answer(prompt, final_answer, expected, draws)
    return Corruption("corrupted_answer", None, list(steps), wrong)


def corrupted_answer(trace_id: str, prompt: str, answer: str, expected: str) -> str:
    """The wrong answer that `corrupt` gives the trace when it corrupts the answer (the same
    draws, whichever way the trace is corrupted)."""
    draws = _Draws(f"tunix-rt preference:{trace_id}")
    draws.below(2)  # the kind
    return wrong_answer(prompt, answer, expected, draws)


def wrong_answer(prompt: str, answer: str, expected: str, draws: _Draws) -> str:
    """An answer that matches neither `expected` nor `answer`, as the module docstring says."""
    for candidate in _answer_candidates(prompt, answer, draws):
        if not _matches(candidate, expected) and not _matches(candidate, answer):
            return candidate
    raise AssertionError("unreachable: `not {answer}` matches neither")  # pragma: no cover


def _answer_candidates(prompt: str, answer: str, draws: _Draws) -> Iterator[str]:
    wanted = answer.strip()
    if _DIGIT.search(wanted):
        yield from _digit_changes(wanted, draws)
    opposite = _OPPOSITES.get(wanted.casefold())
    if opposite is not None:
        yield opposite.capitalize() if wanted[:1].isupper() else opposite
    options = _options(prompt)
    if any(_matches(option, wanted) for option in options):
        yield from _rotated([option for option in options if not _matches(option, wanted)], draws)
    upper = wanted[:1].isupper()
    words = (
        word
        for word in _WORD.findall(prompt)
        if word[:1].isupper() == upper and word.casefold() not in _FUNCTION_WORDS
    )
    yield from _rotated(list(dict.fromkeys(words)), draws)
    yield f"not {wanted}" if wanted else "not known"


def _options(prompt: str) -> list[str]:
    found = list(_OPTIONS.finditer(prompt))
    if not found:
        return []
    head, last = found[-1].groups()
    return [*head.split(", "), last]


def _rotated(items: list[str], draws: _Draws) -> Iterator[str]:
    """`items` starting at a drawn one."""
    if not items:
        return
    start = draws.below(len(items))
    yield from items[start:] + items[:start]


def _digit_changes(text: str, draws: _Draws) -> Iterator[str]:
    """`text` with one digit changed: a drawn digit first, by a drawn amount, then every other
    digit and amount in turn. A number's leading digit never becomes 0 (no `07`, no `-0`)."""
    places = [match.start() for match in _DIGIT.finditer(text)]
    first = draws.below(len(places))
    shift = draws.below(9) + 1
    for place in places[first:] + places[:first]:
        digit = int(text[place])
        starts_number = place == 0 or not text[place - 1].isdigit()
        longer = place + 1 < len(text) and text[place + 1].isdigit()
        leading = starts_number and (longer or (place > 0 and text[place - 1] == "-"))
        for step in range(9):
            new = (digit + (shift + step - 1) % 9 + 1) % 10
            if new == 0 and leading:
                continue
            yield text[:place] + str(new) + text[place + 1 :]


def _matches(generated: str, expected: str) -> bool:
    return answer_match(generated, expected).matched
