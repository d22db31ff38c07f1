"""Map domain errors onto HTTP: 422 in FastAPI's validation shape, others as `{"detail": str}`."""

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


async def _invalid_input(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    error = {"loc": list(exc.loc), "msg": str(exc), "type": "value_error"}
    return JSONResponse({"detail": [error]}, status_code=422)


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InvalidInputError, _invalid_input)
    app.add_exception_handler(TunixRTError, _domain_error)
