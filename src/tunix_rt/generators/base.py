"""Shared pieces of the trace generators: errors, seeds and trace construction."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from tunix_rt.errors import InvalidInputError, NotFoundError
from tunix_rt.traces.schema import ReasoningTrace

TRACE_VERSION = "1.0"

DEFAULT_SEED = 0
"""Seed used for training traces when the caller gives none."""

EVAL_SEED_BASE = 1_000_000
"""Seeds from here up to `EVAL_SEED_END` (exclusive) are reserved for the built-in eval sets."""

EVAL_SEED_END = 2_000_000


class GeneratorError(InvalidInputError):
    """A generator was asked for something it cannot produce (bad param or value)."""


class UnknownGeneratorError(NotFoundError):
    """No generator is registered under the requested name (a missing name, not bad input)."""


def check_count_seed(count: int, seed: int) -> None:
    """Raise `GeneratorError` unless `count` and `seed` are non-negative integers."""
    for label, value in (("count", count), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise GeneratorError(f"{label} must be an integer, got {value!r}", loc=(label,))
        if value < 0:
            raise GeneratorError(f"{label} must be >= 0, got {value}", loc=(label,))


def check_int_range(label: str, value: int, low: int, high: int) -> None:
    """Raise `GeneratorError` unless `low <= value <= high`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GeneratorError(f"{label} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise GeneratorError(f"{label} must be between {low} and {high}, got {value}")


def check_choice(label: str, value: str, choices: Sequence[str]) -> None:
    """Raise `GeneratorError` unless `value` is one of `choices`."""
    if value not in choices:
        raise GeneratorError(f"{label} must be one of {', '.join(choices)}, got {value!r}")


def item_rng(namespace: str, seed: int, index: int) -> random.Random:
    """A private RNG for one item, so item `index` never depends on how many items are made."""
    return random.Random(f"{namespace}:{seed}:{index}")


def make_trace(
    prompt: str,
    steps: Sequence[tuple[str, str]],
    final_answer: str,
    meta: dict[str, Any],
) -> ReasoningTrace:
    """Build and validate a trace from `(type, content)` step pairs numbered from 0."""
    return ReasoningTrace.model_validate(
        {
            "trace_version": TRACE_VERSION,
            "prompt": prompt,
            "steps": [
                {"i": i, "type": kind, "content": content}
                for i, (kind, content) in enumerate(steps)
            ],
            "final_answer": final_answer,
            "meta": meta,
        }
    )
