"""The dashboard in a real browser: the database, the counts, what is installed."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from helpers.factories import make_trace


def test_dashboard_shows_the_database_and_the_counts(page: Page, server: str) -> None:
    before = httpx.get(f"{server}/api/traces?limit=100").json()["data"]
    httpx.post(f"{server}/api/traces", json=make_trace()).raise_for_status()
    page.goto("/")
    expect(page).to_have_title("Dashboard · tunix-rt")
    expect(page.get_by_test_id("sys:database")).to_contain_text("SQLite")
    expect(page.get_by_test_id("sys:database")).to_contain_text("healthy")
    expect(page.get_by_test_id("sys:count-traces")).to_have_text(f"{len(before) + 1} traces")
    expect(page.get_by_test_id("sys:tunix")).to_contain_text("0.1.7")
    expect(page.get_by_test_id("sys:devices")).to_be_visible()
    check_page(page, "dashboard")


def test_the_dashboard_refreshes_itself(page: Page, server: str) -> None:
    page.goto("/")
    count = page.get_by_test_id("sys:count-traces")
    shown = int(count.inner_text().split()[0].replace(",", ""))
    httpx.post(f"{server}/api/traces", json=make_trace()).raise_for_status()
    expect(count).to_have_text(f"{shown + 1} traces", timeout=12_000)


def test_an_unknown_page_is_the_404_page_and_the_api_keeps_json(page: Page, server: str) -> None:
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("sys:error")).to_have_text("there is no page at /no-such-page")
    check_page(page, "not-found")
    api = httpx.get(f"{server}/api/no-such-route")
    assert (api.status_code, api.json()) == (404, {"detail": "Not Found"})


def test_the_pages_work_from_the_keyboard(page: Page, server: str) -> None:
    httpx.post(f"{server}/api/traces", json=make_trace(3, source="keys")).raise_for_status()
    page.goto("/traces")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.get_by_label("Source").focus()  # a filter form is sent with the Enter key
    page.keyboard.type("keys")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/traces\?.*source=keys"))
    expect(page.get_by_test_id("trace:row")).to_have_count(1)
