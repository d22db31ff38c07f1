"""Typed domain errors raised by the services; the API and CLI map them to 4xx / exit codes.

Every class has exactly one base, so the branch an error sits on decides how it is reported
(API status in brackets; the CLI prints one `error:` line and exits 1 for all of them):

    TunixRTError
    ├── BadRequestError [400]             the request lacks something it must have
    ├── NotFoundError [404]               the named object does not exist
    │   ├── UnknownEvalSetError           (evals.evalsets)
    │   └── UnknownGeneratorError         (generators.base)
    ├── ConflictError [409]               conflicts with stored state
    ├── InvalidInputError [422]           a value is not acceptable; `loc` names the field
    │   ├── FormatError                   (formats.errors)
    │   │   ├── UnknownFormatError
    │   │   ├── StepLabelsError
    │   │   └── RecordEncodeError
    │   ├── GeneratorError                (generators.base)
    │   ├── DatasetError                  (training.data)
    │   ├── ModelLoadError                (training.models)
    │   ├── TokenizerError                (training.tokenizer)
    │   ├── TrainingError                 (training.runner)
    │   └── UploadRefused                 (traces.upload)
    └── UnavailableError [503]            a dependency (database, training stack) is missing
        ├── ConfigurationError            a TUNIX_RT_* setting is not acceptable (settings)
        └── DiskFullError                 a write was refused: no space, quota or size limit
                                          (disk_full)

Any error may carry `loc` (a 404 for an id given in a field, a 409 about it); only an
InvalidInputError's reaches the API's answer, as FastAPI's 422 `loc`.

A name that is not registered is a NotFoundError; a value outside what is accepted is an
InvalidInputError. `loc` is the field's path inside the request (`("cursor",)`,
`("manifest_yaml", "training", "batch_size")`; `()` for the request as a whole), never where
HTTP carries it: the API adds `body` or `query`, the CLI names the option.

`describe_validation_error` is the one way to put a pydantic ValidationError into words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotations: importing the error tree loads no pydantic
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails


class TunixRTError(Exception):
    """Base class of every error a user can cause. `loc`, when given, names the request field
    the error is about (so the CLI can name its option); the API's 4xx body stays the message."""

    def __init__(self, *args: object, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(*args)
        self.loc = loc


class BadRequestError(TunixRTError):
    """The request is missing something it must have."""


class NotFoundError(TunixRTError):
    """The named object does not exist."""


class ConflictError(TunixRTError):
    """The request conflicts with stored state (duplicate key, object in use)."""


class InvalidInputError(TunixRTError):
    """The request is well-formed but not acceptable; `loc` names the offending field."""

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message, loc=loc)

    @classmethod
    def from_validation_error(
        cls, exc: ValidationError, *, within: tuple[str | int, ...] = (), what: str | None = None
    ) -> InvalidInputError:
        """The first error of `exc`, raised validating the field at `within`. The message is
        pydantic's; with `what` (the validated value's name) it also names the failing part:
        `manifest training.batch_size: Input should be ...`."""
        first = exc.errors(include_url=False)[0]
        message = f"{what} {_describe(first)}" if what else _message(first)
        return cls(message, loc=(*within, *first["loc"]))


class UnavailableError(TunixRTError):
    """A dependency (database, training stack) is not available."""


class ConfigurationError(UnavailableError):
    """A `TUNIX_RT_*` setting (environment or `.env`) is not acceptable; names the variable."""


class DiskFullError(UnavailableError):
    """A file or the database could not grow: the disk is full, a quota or a file size limit
    was reached (`disk_full.disk_full_error` recognises one in an exception)."""


def describe_validation_error(
    exc: ValidationError, *, name_of: Callable[[str | int], str | None] | None = None
) -> str:
    """One line naming each failing field, e.g. `steps.0.content: String should have ...`.
    `name_of(field)` may give a top-level field the name its user knows it by (a CLI option,
    an environment variable); None keeps the field's own. A check of the whole request (no
    field) words its fields by name: those words are renamed too."""
    return "; ".join(_describe(error, name_of) for error in exc.errors(include_url=False))


_IDENTIFIER = re.compile(r"\b[a-z_][a-z0-9_]*\b")


def _message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")  # pydantic's prefix for our own checks


def _describe(error: ErrorDetails, name_of: Callable[[str | int], str | None] | None = None) -> str:
    loc = list(error["loc"])
    if name_of is not None and not loc:
        return _IDENTIFIER.sub(lambda m: name_of(m.group()) or m.group(), _message(error))
    if loc and name_of is not None and (name := name_of(loc[0])) is not None:
        loc[0] = name
    where = ".".join(str(part) for part in loc)
    return f"{where}: {_message(error)}" if where else _message(error)
