"""`/login` and `/logout`: the session cookie for a server started with `TUNIX_RT_API_TOKEN`."""

from __future__ import annotations

import hmac

from fastapi import Request, Response
from fastapi.responses import RedirectResponse

from tunix_rt.api.deps import AppSettings
from tunix_rt.web.forms import read_form
from tunix_rt.web.guard import SESSION_COOKIE, cookie_header, session_value
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no `//`) may follow the login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", title="Log in", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, settings: AppSettings) -> Response:
    form = await read_form(request)
    target = _safe_next(str(form.get("next", "/")))
    token = str(form.get("token", ""))
    if settings.api_token is None:
        return RedirectResponse(target, status_code=303)
    if not hmac.compare_digest(token.encode(), settings.api_token.encode()):
        return render(
            request,
            "login.html",
            status_code=401,
            title="Log in",
            next=target,
            error="That is not the server's token (TUNIX_RT_API_TOKEN).",
        )
    response = RedirectResponse(target, status_code=303)
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, session_value(settings.api_token)).decode()
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    response = RedirectResponse("/login", status_code=303)
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", max_age=0).decode())
    return response
