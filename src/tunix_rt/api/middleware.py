"""Pure-ASGI guards that run before FastAPI parses anything: body size and bearer token."""

from __future__ import annotations

import hmac
import html
import re
from collections.abc import Callable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunix_rt.api.errors import BODY_METHODS

#: What the size guard answers a web page's form with (it runs before any page could).
_REFUSED_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large · tunix-rt'
    '</title><link rel="stylesheet" href="/static/app.css"></head><body><main id="main">'
    '<h1>413 · Too large</h1><p class="alert error" data-testid="sys:error">{detail}</p>'
    '<p>Go back and send less, or a file in parts. <a href="/">Dashboard</a></p>'
    "</main></body></html>"
)


async def _refuse(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]], *, page: bool = False
) -> None:
    """`{"detail": ...}`, or for a page of the web UI (`page`) a short HTML page saying it."""
    if page:
        body, kind = _REFUSED_PAGE.format(detail=html.escape(detail)).encode(), b"text/html"
    else:
        body, kind = orjson.dumps({"detail": detail}), b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Reject a request body over its route's limit with 413, counting as it streams in.

    A declared Content-Length over the limit is refused at once; a chunked body is read and
    counted, and refused as soon as it passes the limit. Accepted bodies are replayed to the app.
    """

    def __init__(self, app: ASGIApp, limit_for_path: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for_path = limit_for_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for_path(scope["path"])
        too_large = f"request body is larger than the limit of {limit} bytes"
        page = not scope["path"].startswith("/api/")
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _refuse(send, 400, "Content-Length is not a number", [])
                    return
                if declared > limit:
                    await _refuse(send, 413, too_large, [(b"connection", b"close")], page=page)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, too_large, [(b"connection", b"close")], page=page)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


#: The one API path that needs no token; only this exact path reaches the health check.
HEALTH_PATH = "/api/health"


def is_api_path(path: str) -> bool:
    """Whether `path` is under `/api`, read loosely (any case, repeated slashes merged): a
    path that only looks different from `/api/...` is guarded like it."""
    folded = re.sub("/+", "/", path).lower()
    return folded == "/api" or folded.startswith("/api/")


def bearer_matches(scope: Scope, expected: bytes) -> bool:
    """Whether the request's Authorization header is `expected`, compared in constant time."""
    given = dict(scope["headers"]).get(b"authorization", b"")
    return hmac.compare_digest(given, expected)


class BearerToken:
    """When a token is configured, every API path (`is_api_path`) except exactly
    `/api/health` needs it; a missing and a wrong token get the same 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        guarded = scope["type"] == "http" and path != HEALTH_PATH and is_api_path(path)
        if guarded and not bearer_matches(scope, self.expected):
            await _refuse(
                send, 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")]
            )
            return
        await self.app(scope, receive, send)
