"""Put the web UI on the app: its pages, its static files and its guard."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from tunix_rt.settings import Settings
from tunix_rt.web.guard import OPEN_PREFIXES, WebGuard
from tunix_rt.web.page import error_page
from tunix_rt.web.pages import ROUTERS

STATIC_DIR = Path(__file__).parent / "static"
#: Addresses whose unknown paths answer FastAPI's JSON 404, not the 404 page.
NOT_PAGES = (*OPEN_PREFIXES, "/docs", "/redoc", "/openapi.json")


def install_web(app: FastAPI, settings: Settings) -> None:
    """Add the pages (left out of the OpenAPI schema), `/static`, and the guard that gives every
    browser a CSRF token and, with `TUNIX_RT_API_TOKEN` set, asks for the login."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(WebGuard, token=settings.api_token)
    app.add_exception_handler(HTTPException, _not_found_page)


async def _not_found_page(request: Request, exc: Exception) -> Response:
    """An unknown address outside the API is the 404 page; the API keeps its JSON answers."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and not request.url.path.startswith(NOT_PAGES):
        return error_page(request, 404, f"there is no page at {request.url.path}")
    return await http_exception_handler(request, exc)
