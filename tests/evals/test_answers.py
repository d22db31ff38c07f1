"""Answer normalisation and exact-match scoring."""

from __future__ import annotations

import pytest

from tunix_rt.evals.answers import AnswerMatch, answer_match, normalize_answer


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Win", "win"),
        ("  LOSS  ", "loss"),
        ("Tie.", "tie"),
        ("tie .", "tie"),
        ("The   answer\n\tis  Alice", "the answer is alice"),
        ("1,234", "1234"),
        ("12,345,678", "12345678"),
        ("-1,234", "-1234"),
        ("1,234.", "1234"),
        ("1,234.5", "1234.5"),
        ("\u22121234", "-1234"),
        ("\uff11\uff12\uff13", "123"),
        ("1,23", "1,23"),
        ("1234,567", "1234,567"),
        ("12,3456", "12,3456"),
        ("1,234,56", "1,234,56"),
        ("a, b, c", "a, b, c"),
        ("3.14", "3.14"),
        ("Straße", "strasse"),
        ("", ""),
        ("   .", ""),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ("win", "win"),
        ("WIN", "win"),
        (" Win. ", "win"),
        ("1,234", "1234"),
        ("1234", "1,234"),
        ("-444", "-444"),
        ("\u2212444", "-444"),
        ("Alice", "alice"),
        ("6088", "6088."),
    ],
)
def test_matches(generated: str, expected: str) -> None:
    result = answer_match(generated, expected)
    assert result == AnswerMatch(
        score=100.0,
        matched=True,
        normalized_generated=normalize_answer(generated),
        normalized_expected=normalize_answer(expected),
    )


@pytest.mark.parametrize(
    ("generated", "expected"),
    [
        ("loss", "win"),
        ("444", "-444"),
        ("- 444", "-444"),
        ("1234", "12,34"),
        ("12345", "1234"),
        ("win!", "win"),
        ("I win", "win"),
        ("", "win"),
        ("", ""),
        ("  ", " "),
    ],
)
def test_non_matches(generated: str, expected: str) -> None:
    result = answer_match(generated, expected)
    assert result.matched is False
    assert result.score == 0.0


def test_result_carries_normalized_texts() -> None:
    result = answer_match("  12,000 ", "12000.")
    assert (result.normalized_generated, result.normalized_expected) == ("12000", "12000")
    assert result.model_dump() == {
        "score": 100.0,
        "matched": True,
        "normalized_generated": "12000",
        "normalized_expected": "12000",
    }
