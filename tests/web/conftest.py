"""The browser tests: a real server on a fresh SQLite database per module, driven by a real
headless Chromium. Each test fails on any console error of the pages it visits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from helpers.browser import CHROMIUM_MISSING, PageErrors, chromium_path, launched_browser
from helpers.server import running_server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # One browser per module: Playwright's synchronous API holds an event loop while it runs,
    # which the async tests of the next modules must not find still open.
    if chromium_path() is None:
        pytest.skip(CHROMIUM_MISSING)
    with launched_browser() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("web-db") / "web.db"
    with running_server(f"sqlite+aiosqlite:///{database}") as base_url:
        yield base_url


@pytest.fixture
def page(browser: Browser, server: str, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server, viewport={"width": 1280, "height": 800}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = PageErrors()
    errors.watch(page)
    yield page
    context.close()
    assert errors.messages == [], errors.messages
