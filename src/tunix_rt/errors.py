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
    │   └── TrainingError                 (training.runner)
    └── UnavailableError [503]            a dependency (database, training stack) is missing

A name that is not registered is a NotFoundError; a value outside what is accepted is an
InvalidInputError.
"""

from __future__ import annotations


class TunixRTError(Exception):
    """Base class of every error a user can cause."""


class BadRequestError(TunixRTError):
    """The request is missing something it must have."""


class NotFoundError(TunixRTError):
    """The named object does not exist."""


class ConflictError(TunixRTError):
    """The request conflicts with stored state (duplicate key, object in use)."""


class InvalidInputError(TunixRTError):
    """The request is well-formed but not acceptable; `loc` names the offending field."""

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class UnavailableError(TunixRTError):
    """A dependency (database, training stack) is not available."""
