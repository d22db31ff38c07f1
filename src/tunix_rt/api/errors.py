"""Map domain errors onto HTTP: 422 in FastAPI's validation shape, others as `{"detail": str}`.

A domain error names a field of the request (`InvalidInputError.loc`, e.g. `("cursor",)`), not
where HTTP carries it; `request_loc` adds that location by one rule: a request with a body
(POST, PUT, PATCH) carries its fields in the JSON body, any other (GET, DELETE) in its query
string. No route with a body takes query parameters, so the rule is exact (a test checks).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from tunix_rt.errors import (
    BadRequestError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TunixRTError,
    UnavailableError,
)

STATUS_BY_ERROR: dict[type[TunixRTError], int] = {
    BadRequestError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    UnavailableError: 503,
}


class ErrorMessage(BaseModel):
    """The body of every 4xx/5xx other than 422."""

    detail: str


_DESCRIPTIONS = {
    400: "Bad request: unparseable (body not UTF-8 JSON, request line too long) or incomplete",
    401: "Missing or wrong bearer token",
    404: "Not found",
    409: "Conflicts with stored state",
    413: "Request body over the size limit",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` documenting the given error codes."""
    return {code: {"model": ErrorMessage, "description": _DESCRIPTIONS[code]} for code in codes}


#: Methods whose fields travel in the body (the size guard reads their bodies; a field error
#: of theirs is located in `body`, of any other method in `query`).
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def request_loc(method: str, loc: tuple[str | int, ...]) -> list[str | int]:
    """Where a request of `method` carries the field `loc`, as FastAPI's 422 names it:
    `("cursor",)` of a GET is `["query", "cursor"]`, `()` of a POST is `["body"]`."""
    return ["body" if method in BODY_METHODS else "query", *loc]


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    error = {"loc": request_loc(request.method, exc.loc), "msg": str(exc), "type": "value_error"}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidInputError, _invalid_input)
    app.add_exception_handler(TunixRTError, _domain_error)
