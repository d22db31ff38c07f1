"""Rendering pages: one Jinja2 environment, and what every page's template is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from tunix_rt import __version__
from tunix_rt.web import formatting

TEMPLATES_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["version"] = __version__
templates.env.filters.update(formatting.FILTERS)
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

#: The navigation: (path, label); a page is "current" when its path starts with the entry's.
NAV = (
    ("/", "Dashboard"),
    ("/traces", "Traces"),
    ("/upload", "Upload"),
    ("/compare", "Compare"),
    ("/generate", "Generate"),
    ("/datasets", "Datasets"),
    ("/tunix", "Tunix"),
    ("/runs", "Runs"),
    ("/evaluations", "Evaluations"),
)


def current_section(path: str) -> str:
    matches = [p for p, _ in NAV if p == path or (p != "/" and path.startswith(p + "/"))]
    return max(matches, key=len, default="/" if path == "/" else "")


def this_page_with(request: Request, **params: str | int) -> str:
    """This page's address (path and query) with `params` set and its other parameters kept:
    the next page of a list keeps its filters."""
    url = request.url.include_query_params(**params)
    return f"{url.path}?{url.query}"


def attachment(content: str | bytes, filename: str, media_type: str) -> Response:
    """A download: `content` saved by the browser as `filename`."""
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


#: How often the live parts of a page (`data-refresh`) are fetched again until it is final.
LIVE_REFRESH_MS = 2000


def render_live(
    request: Request, template: str, *, title: str, final: bool, **context: Any
) -> HTMLResponse:
    """A page with live parts (a run, an evaluation): its template marks them with
    `data-refresh="{{ refresh_ms }}"`, and with `data-final` once `final` is true."""
    return render(
        request, template, title=title, final=final, refresh_ms=LIVE_REFRESH_MS, **context
    )


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """The page `template` with `context`, plus the navigation and the CSRF token forms carry."""
    state = request.scope.get("state", {})
    return templates.TemplateResponse(
        request,
        template,
        {
            "nav": NAV,
            "section": current_section(request.url.path),
            "csrf_token": state.get("csrf_token", ""),
            "login_required": state.get("login_required", False),
            **context,
        },
        status_code=status_code,
    )
