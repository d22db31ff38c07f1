"""The web guard in process: the CSRF cookie, the login redirect, and what stays open."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.api.app import create_app
from tunix_rt.settings import Settings
from tunix_rt.web.guard import CSRF_COOKIE, SESSION_COOKIE, session_value


def _client(engine: AsyncEngine, tmp_path: Path, token: str | None) -> httpx.AsyncClient:
    settings = Settings(
        database_url="sqlite+aiosqlite://", data_dir=tmp_path / "data", api_token=token
    )
    app = create_app(settings, engine=engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_every_browser_gets_one_csrf_cookie(engine: AsyncEngine, tmp_path: Path) -> None:
    async with _client(engine, tmp_path, None) as client:
        first = await client.get("/")
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie
        token = client.cookies[CSRF_COOKIE]
        assert len(token) >= 32 and f'value="{token}"' not in first.text  # no form on the page
        again = await client.get("/")
        assert "set-cookie" not in again.headers
        assert (await client.get("/api/health")).headers.get("set-cookie") is None


async def test_with_a_token_pages_redirect_to_login(engine: AsyncEngine, tmp_path: Path) -> None:
    async with _client(engine, tmp_path, "t0ken") as client:
        answer = await client.get("/runs?status=running")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fruns%3Fstatus%3Drunning"
        assert (await client.get("/login")).status_code == 200
        assert (await client.get("/static/app.css")).status_code == 200
        assert (await client.get("/api/health")).status_code == 200
        assert (await client.get("/api/traces")).status_code == 401
        client.cookies.set(SESSION_COOKIE, "forged")
        assert (await client.get("/")).status_code == 303
        client.cookies.set(SESSION_COOKIE, session_value("t0ken"))
        assert (await client.get("/")).status_code == 200


async def test_the_session_cookie_does_not_hold_the_token() -> None:
    assert "t0ken" not in session_value("t0ken")
    assert session_value("a") != session_value("b")


async def test_pages_stay_out_of_the_openapi_schema(engine: AsyncEngine, tmp_path: Path) -> None:
    async with _client(engine, tmp_path, None) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert all(path.startswith("/api/") for path in paths)
