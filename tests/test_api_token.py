"""With `TUNIX_RT_API_TOKEN` set, every route of the app (read from the app itself: the API, the
web pages, the interactive docs) needs the token, except the health check and the login form.

A missing, a wrong and an almost right token (all but its last byte) get the very same answer,
compared through `hmac.compare_digest`; spellings of a path that only look different from a
guarded one (case, repeated slashes, dot segments, escaped slashes) are guarded like it.
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tunix_rt.api.app import create_app
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.settings import Settings
from tunix_rt.web.guard import CSRF_COOKIE, SESSION_COOKIE, session_value

TOKEN = "t0ken-for-the-guard-test"
ALMOST = TOKEN[:-1] + chr(ord(TOKEN[-1]) + 1)  # differs in the last byte only
CSRF = "c" * 43  # a browser that already has its CSRF cookie is answered without a new one
#: Routes anyone may reach: the health check, and the form that asks for the token.
OPEN = {("GET", "/api/health"), ("GET", "/login"), ("POST", "/login")}
#: A plausible value for each path parameter, by its name.
PARAMETERS = {"key": "d-v1", "dataset_key": "d-v1", "name": "arithmetic"}


@pytest.fixture
async def app(sqlite_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    settings = Settings(
        database_url=sqlite_url,
        data_dir=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        api_token=TOKEN,
    )
    yield create_app(settings, engine=engine)
    await engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def filled(path_format: str) -> str:
    """A route's path with plausible values in its parameters (a uuid for an `_id`)."""
    values = {
        name: str(uuid.uuid4()) if name.endswith("_id") else PARAMETERS.get(name, "x")
        for name in re.findall(r"{(\w+)}", path_format)
    }
    if "{name}/download" in path_format:  # a run's artifact
        values["name"] = "model/result.json"
    return path_format.format(**values)


def requests_of(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route and method the app has, its included routers' too, as
    FastAPI enumerates them for the OpenAPI schema (HEAD answers as GET)."""
    for route in iter_route_contexts(app.routes):
        if route.path_format is not None and route.methods:
            for method in sorted(route.methods - {"HEAD"}):
                yield method, filled(route.path_format)


def answer_of(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, sorted(response.headers.multi_items()), response.content


def is_login_redirect(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_every_route_but_health_login_and_static_needs_the_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    mounts = [route for route in app.routes if isinstance(route, Mount)]
    assert [mount.path for mount in mounts] == ["/static"]  # the stylesheet and the script
    routes = [(m, p) for m, p in requests_of(app) if (m, p) not in OPEN]
    assert len(routes) > 60  # the API, the pages and the docs
    assert {"/docs", "/openapi.json", "/", "/runs", "/api/traces"} <= {p for _, p in routes}
    cookie = {"cookie": f"{CSRF_COOKIE}={CSRF}"}
    wrong_session = {"cookie": f"{CSRF_COOKIE}={CSRF}; {SESSION_COOKIE}={session_value('no')}"}
    wrong: list[str] = []
    for method, path in routes:
        missing = await client.request(method, path, headers=cookie)
        api = path.startswith("/api/")
        if api:
            refused = missing.status_code == 401 and missing.json() == {
                "detail": "missing or wrong bearer token"
            }
        else:
            refused = is_login_redirect(missing)
        if not refused:
            wrong.append(f"{method} {path} without the token: {missing.status_code}")
        tries = [
            cookie | {"authorization": f"Bearer {ALMOST}"},
            cookie | {"authorization": "Bearer nope"},
            cookie | {"authorization": ALMOST},
            wrong_session,
        ]
        for headers in tries:
            answer = await client.request(method, path, headers=headers)
            if answer_of(answer) != answer_of(missing):
                wrong.append(f"{method} {path} with {headers}: {answer_of(answer)}")
        # The right token (the header for the API, the session cookie for a page) passes.
        right = (
            {"authorization": f"Bearer {TOKEN}"}
            if api
            else {"cookie": f"{CSRF_COOKIE}={CSRF}; {SESSION_COOKIE}={session_value(TOKEN)}"}
        )
        answer = await client.request(method, path, headers=right)
        if answer.status_code == 401 or is_login_redirect(answer):
            wrong.append(f"{method} {path} with the token: {answer.status_code}")
    assert wrong == [], "\n".join(wrong)

    assert (await client.get("/api/health")).status_code == 200
    assert (await client.get("/login")).status_code == 200
    assert (await client.get("/static/app.css")).status_code == 200
    # A page, the docs and the schema also take the API's header instead of the session.
    bearer = {"authorization": f"Bearer {TOKEN}"}
    for path in ("/", "/docs", "/openapi.json"):
        assert (await client.get(path, headers=bearer)).status_code == 200, path


async def test_tokens_are_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    almost = f"Bearer {ALMOST}".encode()
    assert (
        await client.get("/api/traces", headers={"authorization": almost.decode()})
    ).status_code == 401
    assert (almost, f"Bearer {TOKEN}".encode()) in calls
    calls.clear()
    forged = session_value(ALMOST)
    page = await client.get(
        "/", headers={"cookie": f"{CSRF_COOKIE}={CSRF}; {SESSION_COOKIE}={forged}"}
    )
    assert is_login_redirect(page)
    assert (forged.encode(), session_value(TOKEN).encode()) in calls


BASE = "http://test"
TRICKS = [
    "/api//traces",
    "//api/traces",
    "/API/traces",
    "/Api/Traces",
    "/api/health/%2E%2E/traces",  # the server sees /api/health/../traces
    "/api/health%2F..%2Ftraces",
    "/api/health/%2e%2e%2Ftraces",
    "/api/traces/",
    "/api/health/",
    "/api/HEALTH",
    "/api/health/x",
    "/api/./traces",
]


async def test_path_tricks_do_not_get_past_the_token(client: httpx.AsyncClient) -> None:
    wrong = []
    for path in TRICKS:
        answer = await client.get(BASE + path)  # whole, or `//api` would be read as a host
        if answer.status_code != 401 or answer.json() != {
            "detail": "missing or wrong bearer token"
        }:
            wrong.append(f"{path}: {answer.status_code} {answer.text[:200]}")
    # Through the static files or the pages, a dot segment reaches no API route.
    for path in ("/static/%2E%2E/api/traces", "/static/..%2F..%2Fapi%2Ftraces"):
        answer = await client.get(path)
        if answer.status_code != 404:
            wrong.append(f"{path}: {answer.status_code} {answer.text[:200]}")
    # Nor does one through a page: the page guard asks for the login first.
    for path in ("/x/%2E%2E/api/traces", "/runs/%2E%2E/api/traces"):
        answer = await client.get(path)
        if not is_login_redirect(answer):
            wrong.append(f"{path}: {answer.status_code} {answer.text[:200]}")
    assert wrong == [], "\n".join(wrong)
