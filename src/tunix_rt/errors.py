"""Typed domain errors raised by the services; the API and CLI map them to 4xx / exit codes."""

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
