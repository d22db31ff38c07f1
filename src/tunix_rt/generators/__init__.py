"""Trace generators (High Card Duel, verifiable tasks) and their registry.

Every generator is `(count, seed, **params) -> Iterator[ReasoningTrace]`, deterministic for
its arguments. Use `GENERATORS[name].generate(...)`, or `generate(name, ...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tunix_rt.generators import arithmetic, comparison_chain
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.generators.base import (
    DEFAULT_SEED,
    EVAL_SEED_BASE,
    EVAL_SEED_END,
    GeneratorError,
    UnknownGeneratorError,
    check_count_seed,
)
from tunix_rt.generators.comparison_chain import generate_comparison_chain
from tunix_rt.generators.high_card_duel import generate_high_card_duel, ungar_status
from tunix_rt.registry import lookup
from tunix_rt.traces.schema import ReasoningTrace

__all__ = [
    "DEFAULT_SEED",
    "EVAL_SEED_BASE",
    "EVAL_SEED_END",
    "GENERATORS",
    "GeneratorError",
    "GeneratorSpec",
    "ParamSpec",
    "UnknownGeneratorError",
    "describe_generators",
    "generate",
    "get_generator",
    "mixed_demo_set",
    "ungar_status",
]

ParamValue = int | str

_PARAMS = ("params",)
"""Where a bad parameter is reported: the request's `params` (and within it the parameter's
name, when the value of a known parameter is refused)."""


@dataclass(frozen=True)
class ParamSpec:
    """One generator parameter: its type, default, allowed values and help text."""

    name: str
    kind: type[int] | type[str]
    default: ParamValue
    description: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def coerce(self, value: object) -> ParamValue:
        """Check `value` (decimal strings are accepted for ints, e.g. from a CLI)."""
        if self.kind is int:
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise GeneratorError(
                    f"{self.name} must be an integer, got {value!r}", loc=(*_PARAMS, self.name)
                )
            low = self.minimum if self.minimum is not None else value
            high = self.maximum if self.maximum is not None else value
            if not low <= value <= high:
                raise GeneratorError(
                    f"{self.name} must be between {low} and {high}, got {value}",
                    loc=(*_PARAMS, self.name),
                )
            return value
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            allowed = ", ".join(self.choices) if self.choices else "a string"
            raise GeneratorError(
                f"{self.name} must be one of {allowed}, got {value!r}", loc=(*_PARAMS, self.name)
            )
        return value

    def describe(self) -> dict[str, Any]:
        """JSON-ready description."""
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "description": self.description,
            "choices": list(self.choices),
            "minimum": self.minimum,
            "maximum": self.maximum,
        }


@dataclass(frozen=True)
class GeneratorSpec:
    """A registered generator: name, description, `meta.source`, params and the function."""

    name: str
    description: str
    source: str
    func: Callable[..., Iterator[ReasoningTrace]]
    params: tuple[ParamSpec, ...] = ()
    reserved_seeds: range | None = None

    def check_params(self, params: Mapping[str, object]) -> dict[str, ParamValue]:
        """Coerced params with defaults filled in; unknown names raise `GeneratorError`."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise GeneratorError(
                f"unknown parameter(s) for {self.name}: {', '.join(unknown)} (allowed: {allowed})",
                loc=_PARAMS,
            )
        return {
            name: spec.coerce(params[name]) if name in params else spec.default
            for name, spec in known.items()
        }

    def generate(
        self, count: int, seed: int = DEFAULT_SEED, **params: object
    ) -> Iterator[ReasoningTrace]:
        """Check everything up front, then return the lazy trace iterator."""
        check_count_seed(count, seed)
        values = self.check_params(params)
        reserved = self.reserved_seeds
        overlaps = reserved is not None and seed < reserved.stop and reserved.start < seed + count
        if reserved is not None and count > 0 and overlaps:
            raise GeneratorError(
                f"{self.name} episode seeds {reserved.start}..{reserved.stop - 1} are reserved "
                f"for eval sets; seeds {seed}..{seed + count - 1} overlap them",
                loc=("seed",),
            )
        return self.func(count, seed, **values)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (for the API and CLI)."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "params": [p.describe() for p in self.params],
        }


GENERATORS: Mapping[str, GeneratorSpec] = MappingProxyType(
    {
        "high-card-duel": GeneratorSpec(
            name="high-card-duel",
            description=(
                "High Card Duel episodes (UNGAR rules, played through UNGAR when installed): "
                "both cards are revealed and the trace reasons to win, loss or tie."
            ),
            source="ungar",
            func=generate_high_card_duel,
            reserved_seeds=range(EVAL_SEED_BASE, EVAL_SEED_END),
        ),
        "arithmetic": GeneratorSpec(
            name="arithmetic",
            description=(
                "Multi-digit addition and subtraction worked column by column, multiplication "
                "by partial products; answers are exact integers."
            ),
            source="arithmetic",
            func=generate_arithmetic,
            params=(
                ParamSpec(
                    "digits",
                    int,
                    arithmetic.DEFAULT_DIGITS,
                    "Digits per operand.",
                    minimum=arithmetic.MIN_DIGITS,
                    maximum=arithmetic.MAX_DIGITS,
                ),
                ParamSpec(
                    "operation",
                    str,
                    arithmetic.DEFAULT_OPERATION,
                    "add, sub, mul, or mixed (chosen per item).",
                    choices=arithmetic.OPERATION_CHOICES,
                ),
                ParamSpec(
                    "difficulty",
                    str,
                    arithmetic.DEFAULT_DIFFICULTY,
                    "uniform, or hard: operands at the carry / borrow boundary, column by "
                    "column (add and sub).",
                    choices=arithmetic.DIFFICULTIES,
                ),
                ParamSpec(
                    "comparison",
                    str,
                    arithmetic.DEFAULT_COMPARISON,
                    "stated, or worked: a subtraction first compares its operands place by place.",
                    choices=arithmetic.COMPARISONS,
                ),
            ),
        ),
        "comparison-chain": GeneratorSpec(
            name="comparison-chain",
            description=(
                "Ordering puzzles: shuffled pairwise comparisons (taller / older / faster / "
                "heavier) chained to find who is the most or the least."
            ),
            source="comparison_chain",
            func=generate_comparison_chain,
            params=(
                ParamSpec(
                    "people",
                    int,
                    comparison_chain.DEFAULT_PEOPLE,
                    "Number of people in the chain.",
                    minimum=comparison_chain.MIN_PEOPLE,
                    maximum=comparison_chain.MAX_PEOPLE,
                ),
                ParamSpec(
                    "question",
                    str,
                    comparison_chain.DEFAULT_QUESTION,
                    "most, least, or mixed (chosen per item).",
                    choices=comparison_chain.QUESTIONS,
                ),
            ),
        ),
    }
)


def get_generator(name: str) -> GeneratorSpec:
    """The registered generator, or `UnknownGeneratorError`."""
    return lookup(GENERATORS, name, "generator", UnknownGeneratorError)


def describe_generators() -> list[dict[str, Any]]:
    """Every registered generator with its params, JSON-ready, in registry order."""
    return [spec.describe() for spec in GENERATORS.values()]


def generate(
    name: str, count: int, seed: int = DEFAULT_SEED, **params: object
) -> Iterator[ReasoningTrace]:
    """`get_generator(name).generate(count, seed, **params)`."""
    return get_generator(name).generate(count, seed, **params)


def mixed_demo_set(seed: int = DEFAULT_SEED) -> list[ReasoningTrace]:
    """Twelve traces from every generator (4 each), deterministic for `seed`."""
    check_count_seed(0, seed)
    arithmetic_items = [
        next(generate_arithmetic(1, seed + k, digits=digits, operation=op))
        for k, (op, digits) in enumerate((("add", 3), ("sub", 3), ("mul", 2), ("mul", 3)))
    ]
    return [
        *generate_high_card_duel(4, seed),
        *arithmetic_items,
        *generate_comparison_chain(4, seed, people=4),
    ]
