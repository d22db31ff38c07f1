"""The route class of every API router: text holding the NUL character is refused with 422.

PostgreSQL cannot store U+0000 in text or JSONB (SQLite can), so a request carrying one in its
path, its query string or anywhere in its JSON body is answered, on either database, with a 422
in FastAPI's validation shape naming where it is, before the handler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams

from tunix_rt.nul_text import ESCAPED_NUL, MESSAGE, NUL, find_nul

__all__ = ["ApiRoute", "nul_location"]


def nul_location(
    path_params: Mapping[str, Any], query: QueryParams, body: bytes | None
) -> tuple[str | int, ...] | None:
    """Where the first NUL character of a request is (`("query", "q")`, `("body", "meta",
    "x")`), or None. A body that is not JSON is left to the route's own parsing."""
    for name, value in path_params.items():
        if isinstance(value, str) and NUL in value:
            return ("path", name)
    for name, value in query.multi_items():
        if NUL in name or NUL in value:
            return ("query", name)
    if body and ESCAPED_NUL in body:
        try:
            return find_nul(orjson.loads(body), ("body",))
        except orjson.JSONDecodeError:
            return None
    return None


class ApiRoute(APIRoute):
    """An API route whose requests are refused (422) when their text holds a NUL character."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        reads_body = self.body_field is not None

        async def handle(request: Request) -> Response:
            body = await request.body() if reads_body else None
            loc = nul_location(request.path_params, request.query_params, body)
            if loc is not None:
                raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": MESSAGE}])
            return await handler(request)

        return handle
