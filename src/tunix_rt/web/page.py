"""What every page module builds on: a router whose routes turn domain errors into error pages.

The web UI maps the domain error tree once, here, as the API does in `api/errors.py` and the CLI
in `cli/common.py`: an unknown id or key is the 404 page, a conflict the 409 page with the
service's message, and so on. A page handles its own form's errors (shown beside the fields)
and lets everything else reach this mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from tunix_rt.api import errors as api_errors
from tunix_rt.errors import InvalidInputError, TunixRTError
from tunix_rt.web.forms import FormRefused
from tunix_rt.web.render import render

TITLE_BY_STATUS = {
    400: "Bad request",
    403: "Refused",
    404: "Not found",
    409: "Conflict",
    422: "Not accepted",
    503: "Unavailable",
}
#: The API's statuses; a page shows an invalid value as a 422 page (the API answers in its
#: validation shape), and a form without its CSRF token is refused with 403.
STATUS_BY_ERROR: dict[type[Exception], int] = {
    error: status for error, status in api_errors.STATUS_BY_ERROR.items()
} | {InvalidInputError: 422, FormRefused: 403}


def error_page(request: Request, status: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        status_code=status,
        title=TITLE_BY_STATUS.get(status, "Error"),
        status=status,
        message=message,
    )


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """A malformed id or key in the path is a page that does not exist (404); a malformed query
    parameter is 422, named."""
    errors = exc.errors()
    if any(error["loc"][:1] == ("path",) for error in errors):
        return 404, "no such page: the id or key in the address is malformed"
    parts = [f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}" for error in errors]
    return 422, "; ".join(parts)


class PageRoute(APIRoute):
    """A route of the web UI: domain errors become the error page with their status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                status, message = _validation_message(exc)
                return error_page(request, status, message)
            except (TunixRTError, FormRefused) as exc:
                status = next(
                    (code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400
                )
                return error_page(request, status, str(exc))

        return handle


def page_router() -> APIRouter:
    """A router for one area of the UI, left out of the OpenAPI schema."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)
