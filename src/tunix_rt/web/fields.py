"""Number inputs described by a pydantic model's own fields: their range, step and default come
from the field's constraints, so a form shows what the model accepts and never drifts from it."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

import annotated_types
from markupsafe import Markup
from pydantic import BaseModel
from pydantic_core import PydanticUndefined


@dataclass(frozen=True)
class NumberInput:
    """One `<input type="number">`: its name, label, bounds, step and default."""

    name: str
    label: str
    integer: bool
    low: float | None
    low_inclusive: bool
    high: float | None
    high_inclusive: bool
    multiple_of: float | None
    default: Any

    @property
    def step(self) -> str:
        if self.multiple_of is not None:
            return _text(self.multiple_of)
        return "1" if self.integer else "any"

    @property
    def attrs(self) -> Markup:
        """The input's `min`, `max` and `step` (an exclusive bound is given as the bound: the
        server's check, shown beside the field, is the one that counts)."""
        parts = [f'step="{self.step}"']
        if self.low is not None:
            parts.insert(0, f'min="{_text(self.low)}"')
        if self.high is not None:
            parts.insert(1 if self.low is not None else 0, f'max="{_text(self.high)}"')
        return Markup(" ".join(parts))

    @property
    def range_text(self) -> str:
        """The accepted values in words: `1 to 100`, `above 0, up to 1`, `at least 1`."""
        low = None
        if self.low is not None:
            low = f"{_words(self.low)}" if self.low_inclusive else f"above {_words(self.low)}"
        high = None
        if self.high is not None:
            high = f"{_words(self.high)}" if self.high_inclusive else f"below {_words(self.high)}"
        if low is not None and high is not None:
            if self.low_inclusive and self.high_inclusive:
                text = f"{low} to {high}"
            else:
                text = f"{low}, {'up to ' if self.high_inclusive else ''}{high}"
        elif low is not None:
            text = f"at least {low}" if self.low_inclusive else low
        elif high is not None:
            text = f"at most {high}" if self.high_inclusive else high
        else:
            text = "any number"
        if self.multiple_of is not None:
            text += f", a multiple of {_words(self.multiple_of)}"
        return text

    @property
    def hint(self) -> str:
        default = "none" if self.default is None else _words(self.default)
        return f"{self.range_text}; default {default}"

    @property
    def value(self) -> str:
        """The default as the input's value ("" for none)."""
        return "" if self.default is None else _text(self.default)


def _text(value: Any) -> str:
    """A number as an input holds it: `3`, not `3.0`; `0.003`; `2e-05`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _words(value: Any) -> str:
    """A number as a hint reads it: `10,000,000`; `0.003`."""
    text = _text(value)
    return f"{int(text):,}" if text.lstrip("-").isdigit() else text


def _is_integer(annotation: Any) -> bool:
    """`int`, `int | None` and the like (a bool is not a number input)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return all(_is_integer(member) for member in members)
    return annotation is int


def number_input(
    model: type[BaseModel],
    field_name: str,
    label: str,
    *,
    name: str | None = None,
    default: Any = PydanticUndefined,
) -> NumberInput:
    """The input for `model`'s field `field_name` (named `name` in the form, by default the
    field's name), bounded as the field is; the default is the field's unless given (for a
    model whose defaults depend on another field, as the tiny model's learning rate)."""
    field = model.model_fields[field_name]
    low = high = multiple = None
    low_inclusive = high_inclusive = True
    for constraint in field.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low, low_inclusive = float(constraint.ge), True  # type: ignore[arg-type]
        elif isinstance(constraint, annotated_types.Gt):
            low, low_inclusive = float(constraint.gt), False  # type: ignore[arg-type]
        elif isinstance(constraint, annotated_types.Le):
            high, high_inclusive = float(constraint.le), True  # type: ignore[arg-type]
        elif isinstance(constraint, annotated_types.Lt):
            high, high_inclusive = float(constraint.lt), False  # type: ignore[arg-type]
        elif isinstance(constraint, annotated_types.MultipleOf):
            multiple = float(constraint.multiple_of)  # type: ignore[arg-type]
    if default is PydanticUndefined:
        default = field.get_default(call_default_factory=True)
    return NumberInput(
        name=name or field_name,
        label=label,
        integer=_is_integer(field.annotation),
        low=low,
        low_inclusive=low_inclusive,
        high=high,
        high_inclusive=high_inclusive,
        multiple_of=multiple,
        default=default,
    )
