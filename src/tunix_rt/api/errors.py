"""Map domain errors onto HTTP status codes with `{"detail": ...}` bodies."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tunix_rt.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TunixRTError,
    UnavailableError,
)

STATUS_BY_ERROR: dict[type[TunixRTError], int] = {
    NotFoundError: 404,
    ConflictError: 409,
    InvalidInputError: 422,
    UnavailableError: 503,
}


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TunixRTError, _domain_error)
