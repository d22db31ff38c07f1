"""Answer extraction and the layout check over well-formed, malformed and adversarial output."""

from __future__ import annotations

import pytest

from tunix_rt.evals.completions import ParsedCompletion, parse_completion
from tunix_rt.evals.scoring import score_completion
from tunix_rt.formats.response import reasoning_response

GOOD = "Reasoning:\n1. 7 + 5 = 12, write 2, carry 1.\n2. 2 + 1 + 1 = 4.\nAnswer: 42"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (GOOD, ParsedCompletion("42", ("7 + 5 = 12, write 2, carry 1.", "2 + 1 + 1 = 4."), True)),
        # No Answer: line at all.
        (
            "Reasoning:\n1. 7 + 5 = 12.\nSo it is 42",
            ParsedCompletion(None, ("7 + 5 = 12.\nSo it is 42",), False),
        ),
        # Two Answer: lines: the last one counts, and the layout is broken.
        (
            "Reasoning:\n1. a\nAnswer: 41\nAnswer: 42",
            ParsedCompletion("42", ("a",), False),
        ),
        # An "Answer:" inside a step is not an answer line.
        (
            "Reasoning:\n1. Answer: 7 is wrong here\nAnswer: 42",
            ParsedCompletion("42", ("Answer: 7 is wrong here",), True),
        ),
        # Only a step that mentions Answer: -> no answer.
        ("Reasoning:\n1. Answer: 7", ParsedCompletion(None, ("Answer: 7",), False)),
        # Trailing text after the answer line: answer found, layout broken.
        ("Reasoning:\n1. a\nAnswer: 42\nHope that helps!", ParsedCompletion("42", ("a",), False)),
        # Trailing text on the answer line stays part of the answer.
        ("Reasoning:\n1. a\nAnswer: 42 apples", ParsedCompletion("42 apples", ("a",), True)),
        # Indented answer line: found, but not the exact layout.
        ("Reasoning:\n1. a\n  Answer: 42", ParsedCompletion("42", ("a",), False)),
        # Empty answer.
        ("Reasoning:\n1. a\nAnswer:   ", ParsedCompletion(None, ("a",), False)),
        # No Reasoning: header.
        ("1. a\nAnswer: 42", ParsedCompletion("42", (), False)),
        # Answer only (no steps).
        ("Answer: 42", ParsedCompletion("42", (), False)),
        # Text before the header.
        ("Sure!\nReasoning:\n1. a\nAnswer: 42", ParsedCompletion("42", ("a",), False)),
        # Steps out of order: 2 after 1 is a step, 4 after 2 is a continuation line.
        (
            "Reasoning:\n1. a\n2. b\n4. c\nAnswer: 42",
            ParsedCompletion("42", ("a", "b\n4. c"), True),
        ),
        # A step that runs over two lines.
        (
            "Reasoning:\n1. a\nstill a\n2. b\nAnswer: 7",
            ParsedCompletion("7", ("a\nstill a", "b"), True),
        ),
        # Not starting at 1.
        ("Reasoning:\n2. a\nAnswer: 42", ParsedCompletion("42", (), False)),
        # An empty step.
        ("Reasoning:\n1. \nAnswer: 42", ParsedCompletion("42", (), False)),
        # Unicode minus and thousands separators are kept for answer_match to normalise.
        ("Reasoning:\n1. a\nAnswer: \u2212541", ParsedCompletion("\u2212541", ("a",), True)),
        ("Reasoning:\n1. a\nAnswer: 1,072", ParsedCompletion("1,072", ("a",), True)),
        # Nothing.
        ("", ParsedCompletion(None, (), False)),
        # Windows line ends are not the layout.
        ("Reasoning:\r\n1. a\r\nAnswer: 42", ParsedCompletion("42", (), False)),
    ],
)
def test_parse_completion(completion: str, expected: ParsedCompletion) -> None:
    assert parse_completion(completion) == expected


def test_the_training_layout_parses_back_exactly() -> None:
    steps = ["Write 694 above 378.", "Ones: 4 + 8 = 12, write 2, carry 1.", "So 694 + 378 = 1072."]
    parsed = parse_completion(reasoning_response(steps, "1072"))
    assert parsed == ParsedCompletion("1072", tuple(steps), True)


@pytest.mark.parametrize(
    ("completion", "expected", "stopped", "correct", "format_ok"),
    [
        (GOOD, "42", True, True, True),
        (GOOD, "42", False, True, False),  # ran into max_new_tokens
        (GOOD, "43", True, False, True),
        ("Reasoning:\n1. a\nAnswer: \u2212541", "-541", True, True, True),
        ("Reasoning:\n1. a\nAnswer: 1,072", "1072", True, True, True),
        ("Reasoning:\n1. a\nAnswer: 1072.", "1072", True, True, True),
        ("Reasoning:\n1. a\nAnswer: 1072 is the sum", "1072", True, False, True),
        ("Reasoning:\n1. Answer: 1072", "1072", True, False, False),
        ("Reasoning:\n1. a\nAnswer: Win", "win", True, True, True),
    ],
)
def test_score_completion(
    completion: str, expected: str, stopped: bool, correct: bool, format_ok: bool
) -> None:
    scored = score_completion(completion, expected=expected, stopped=stopped, output_tokens=9)
    assert (scored.correct, scored.format_ok, scored.output_tokens) == (correct, format_ok, 9)
