"""Exact-match answer scoring after light normalisation (used for traces and model outputs)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

MATCH_SCORE = 100.0
NO_MATCH_SCORE = 0.0

_WHITESPACE = re.compile(r"\s+")
# A number written with comma digit groups: 1,234 or 12,345,678.9 (not 1,23 or 1234,567).
_GROUPED_NUMBER = re.compile(r"(?<![\d,.])\d{1,3}(?:,\d{3})+(?![\d,])")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-"})


class AnswerMatch(BaseModel):
    """Result of comparing a generated answer with the expected one."""

    model_config = ConfigDict(frozen=True)

    score: float
    matched: bool
    normalized_generated: str
    normalized_expected: str


def normalize_answer(text: str) -> str:
    """Case-fold, collapse whitespace, strip one trailing period, drop thousands separators.

    Unicode is NFKC-normalised and typographic minus signs become `-`.
    """
    value = unicodedata.normalize("NFKC", text).translate(_MINUS_SIGNS).casefold()
    value = _WHITESPACE.sub(" ", value).strip()
    if value.endswith("."):
        value = value[:-1].rstrip()
    return _GROUPED_NUMBER.sub(lambda m: m.group(0).replace(",", ""), value)


def answer_match(generated: str, expected: str) -> AnswerMatch:
    """Score 100.0 when the normalised answers are equal and non-empty, else 0.0."""
    norm_generated = normalize_answer(generated)
    norm_expected = normalize_answer(expected)
    matched = bool(norm_expected) and norm_generated == norm_expected
    return AnswerMatch(
        score=MATCH_SCORE if matched else NO_MATCH_SCORE,
        matched=matched,
        normalized_generated=norm_generated,
        normalized_expected=norm_expected,
    )


def expected_answer_of(meta: Mapping[str, Any] | None) -> str | None:
    """`meta.expected_answer` as text (integers are accepted); None when absent or blank."""
    value = (meta or {}).get("expected_answer")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value.strip() else None
