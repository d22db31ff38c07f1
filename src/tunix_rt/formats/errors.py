"""Errors raised while rendering or encoding export records."""

from __future__ import annotations

from tunix_rt.errors import InvalidInputError
from tunix_rt.formats.names import FORMATS


class FormatError(InvalidInputError):
    """An export record cannot be produced."""


class UnknownFormatError(FormatError):
    """The requested export format does not exist."""

    def __init__(self, name: object) -> None:
        self.name = name
        super().__init__(f"unknown export format {name!r}; expected one of: {', '.join(FORMATS)}")


class StepLabelsError(FormatError):
    """`meta.step_labels` is present but is not one bool per step."""


class RecordEncodeError(FormatError):
    """A record holds a value JSON cannot carry (e.g. a lone UTF-16 surrogate)."""
