"""The web UI's guard, before any page runs: the CSRF cookie, and the login when a token is set.

Every browser gets a random CSRF token in an HttpOnly cookie; each form carries it back in a
hidden field, and `forms.read_form` refuses a post whose field does not match (a page of
another site can make a browser post here, but cannot read the token). With
`TUNIX_RT_API_TOKEN` set, every page (the interactive API docs and `/openapi.json` too) needs
the session cookie that `/login` sets after checking the token, or the API's
`Authorization: Bearer` header; without either it redirects to the login form. The API keeps
its bearer token (`api.middleware.BearerToken`); `/static` and the login form are open.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunix_rt.api.middleware import bearer_matches

CSRF_COOKIE = "tunix_rt_csrf"
SESSION_COOKIE = "tunix_rt_session"
#: Paths this guard leaves alone: the API (`BearerToken` guards it) and the static files.
OPEN_PREFIXES = ("/api/", "/static/")
LOGIN_PATH = "/login"


def session_value(token: str) -> str:
    """What the session cookie holds once the token was given: a digest of the token, so the
    cookie never holds the token itself."""
    return hmac.new(token.encode(), b"tunix-rt web session", hashlib.sha256).hexdigest()


def cookie_header(name: str, value: str, *, max_age: int | None = None) -> bytes:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope["headers"]:
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header counts as no cookies
                return {}
    return {key: morsel.value for key, morsel in jar.items()}


class WebGuard:
    """Pure ASGI: sets `scope["state"]["csrf_token"]` for the pages, issuing the cookie when the
    browser has none, and redirects to the login when a token is set and the session is not."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.session = session_value(token) if token else None
        self.bearer = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        csrf = cookies.get(CSRF_COOKIE, "")
        new_cookie = len(csrf) < 32
        if new_cookie:
            csrf = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = csrf
        extra_headers = [(b"set-cookie", cookie_header(CSRF_COOKIE, csrf))] if new_cookie else []
        logged_in = (
            self.session is None
            or hmac.compare_digest(cookies.get(SESSION_COOKIE, "").encode(), self.session.encode())
            or (self.bearer is not None and bearer_matches(scope, self.bearer))
        )
        scope["state"]["logged_in"] = logged_in
        scope["state"]["login_required"] = self.session is not None
        if not logged_in and path != LOGIN_PATH:
            target = path + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
            location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), *extra_headers],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and extra_headers:
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
