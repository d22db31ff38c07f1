"""With TUNIX_RT_API_TOKEN set the pages need the login, and every form its CSRF token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from helpers.browser import PageErrors, check_page
from helpers.server import running_server

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("web-db") / "web.db"
    with running_server(f"sqlite+aiosqlite:///{database}", TUNIX_RT_API_TOKEN=TOKEN) as base_url:
        yield base_url


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = PageErrors()
    errors.watch(page)
    yield page
    context.close()
    assert errors.messages == []


def test_pages_ask_for_the_login_and_go_on_after_it(page: Page) -> None:
    page.goto("/traces?limit=5")
    expect(page).to_have_url("/login?next=%2Ftraces%3Flimit%3D5")
    check_page(page, "login")
    page.get_by_test_id("sys:token").fill("wrong")
    page.get_by_test_id("sys:login-submit").click()
    expect(page.get_by_test_id("error:token")).to_contain_text("not the server's token")
    page.get_by_test_id("sys:token").fill(TOKEN)
    page.get_by_test_id("sys:login-submit").click()
    expect(page).to_have_url("/traces?limit=5")
    page.goto("/")
    expect(page.get_by_test_id("sys:database")).to_contain_text("healthy")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url("/login")
    page.goto("/")
    expect(page).to_have_url("/login?next=%2F")


def test_a_form_without_the_csrf_token_is_refused(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        form = client.get("/login")
        assert form.status_code == 200 and "tunix_rt_csrf" in client.cookies
        refused = client.post("/login", data={"token": TOKEN, "next": "/"})
        assert refused.status_code == 403
        assert "security token" in refused.text
        assert "tunix_rt_session" not in client.cookies
        forged = client.post("/login", data={"token": TOKEN, "csrf_token": "x" * 43})
        assert forged.status_code == 403
        csrf = client.cookies["tunix_rt_csrf"]
        accepted = client.post("/login", data={"token": TOKEN, "next": "/", "csrf_token": csrf})
        assert (accepted.status_code, accepted.headers["location"]) == (303, "/")
        assert client.get("/").status_code == 200


def test_the_login_goes_on_only_to_a_page_of_this_site(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        client.get("/login")
        csrf = client.cookies["tunix_rt_csrf"]
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            answer = client.post(
                "/login", data={"token": TOKEN, "next": target, "csrf_token": csrf}
            )
            assert (answer.status_code, answer.headers["location"]) == (303, "/")


def test_the_api_still_needs_its_bearer_token(server: str) -> None:
    assert httpx.get(f"{server}/api/traces").status_code == 401
    with httpx.Client(base_url=server) as client:  # a browser session is not an API token
        client.get("/login")
        client.post(
            "/login",
            data={"token": TOKEN, "next": "/", "csrf_token": client.cookies["tunix_rt_csrf"]},
        )
        assert client.get("/").status_code == 200
        assert client.get("/api/traces").status_code == 401
    ok = httpx.get(f"{server}/api/traces", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
