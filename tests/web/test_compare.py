"""The compare page in a real browser: two traces side by side, steps aligned, both scores."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from helpers.factories import make_trace

BASE_STEPS = [
    {"i": 0, "type": "reasoning", "content": "Add the tens: 10 + 30 = 40."},
    {"i": 1, "type": "reasoning", "content": "Add the ones: 40 + 2 = 42."},
]
OTHER_STEPS = [
    {"i": 0, "type": "reasoning", "content": "12 + 30: 2 + 0 = 2 and 1 + 3 = 4, so 42."},
    {"i": 1, "type": "check", "content": "42 - 30 = 12, as it should."},
    {"i": 2, "type": "conclusion", "content": "The sum is 42."},
]


def _store(server: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{server}/api/traces", json=body)
    response.raise_for_status()
    trace_id: str = response.json()["id"]
    return trace_id


def _pair(server: str) -> tuple[str, str]:
    base = _store(
        server, make_trace(12, steps=BASE_STEPS, prompt="What is 12 + 30?", final_answer="42")
    )
    other = _store(
        server, make_trace(12, steps=OTHER_STEPS, prompt="Add 12 and 30.", final_answer="42.")
    )
    return base, other


def test_two_traces_side_by_side_with_aligned_steps(page: Page, server: str) -> None:
    base, other = _pair(server)
    scores = httpx.get(f"{server}/api/traces/compare", params={"base": base, "other": other})
    expected = {key: f"{scores.json()[key]['score']:.1f}" for key in ("base", "other")}
    page.goto(f"/compare?base={base}&other={other}")
    expect(page).to_have_title("Compare traces · tunix-rt")
    expect(page.get_by_test_id("compare:base-prompt")).to_have_text("What is 12 + 30?")
    expect(page.get_by_test_id("compare:other-prompt")).to_have_text("Add 12 and 30.")
    expect(page.get_by_test_id("compare:base-answer")).to_have_text("42")
    expect(page.get_by_test_id("compare:other-answer")).to_have_text("42.")
    expect(page.get_by_test_id("compare:base-score")).to_have_text(expected["base"])
    expect(page.get_by_test_id("compare:other-score")).to_have_text(expected["other"])
    expect(page.get_by_test_id("compare:base-link")).to_have_attribute("href", f"/traces/{base}")

    rows = page.get_by_test_id("compare:step-row")
    expect(rows).to_have_count(3)
    expect(rows.locator("th")).to_have_text(["0", "1", "2"])
    expect(rows.nth(0).get_by_test_id("compare:step")).to_have_text(
        [BASE_STEPS[0]["content"], OTHER_STEPS[0]["content"]]
    )
    expect(rows.nth(1).get_by_test_id("compare:step")).to_have_text(
        [BASE_STEPS[1]["content"], OTHER_STEPS[1]["content"]]
    )
    expect(rows.nth(2).locator("td").nth(0)).to_have_attribute("data-testid", "compare:no-step")
    expect(rows.nth(2).locator("td").nth(0)).to_have_text("")
    expect(rows.nth(2).get_by_test_id("compare:step")).to_have_text(OTHER_STEPS[2]["content"])
    check_page(page, "compare")


def test_two_of_the_latest_traces_are_picked_from_the_list(page: Page, server: str) -> None:
    base, other = _pair(server)
    page.goto("/compare")
    expect(page.get_by_test_id("compare:steps")).to_have_count(0)
    page.get_by_label(f"Base: trace {base[:8]}").check()
    page.get_by_label(f"Other: trace {other[:8]}").check()
    page.get_by_test_id("compare:pick-submit").click()
    expect(page.get_by_test_id("compare:steps")).to_have_count(1)
    query = parse_qs(urlsplit(page.url).query)
    assert (urlsplit(page.url).path, query) == ("/compare", {"base": [base], "other": [other]})
    expect(page.get_by_test_id("compare:base")).to_have_value(base)
    expect(page.get_by_test_id("compare:other")).to_have_value(other)
    expect(page.get_by_test_id("compare:step-row")).to_have_count(3)
    check_page(page, "compare")


def test_ids_typed_in_are_compared_and_a_bad_one_is_named(page: Page, server: str) -> None:
    base, other = _pair(server)
    page.goto("/compare")
    page.get_by_test_id("compare:base").fill("not-an-id")
    page.get_by_test_id("compare:other").fill(other)
    page.get_by_test_id("compare:submit").click()
    api = httpx.get(f"{server}/api/traces/compare", params={"base": "not-an-id", "other": other})
    assert api.status_code == 422
    field = page.locator(".field", has=page.get_by_test_id("compare:base"))
    expect(field.get_by_test_id("error:base")).to_have_text(api.json()["detail"][0]["msg"])
    expect(page.get_by_test_id("error:other")).to_have_count(0)
    expect(page.get_by_test_id("compare:other")).to_have_value(other)
    check_page(page, "compare")

    page.get_by_test_id("compare:base").fill(base)
    page.get_by_test_id("compare:other").fill("")
    page.get_by_test_id("compare:submit").click()
    expect(page.get_by_test_id("error:other")).to_have_text("Field required")
    page.get_by_test_id("compare:other").fill(other)
    page.get_by_test_id("compare:submit").click()
    expect(page.get_by_test_id("compare:step-row")).to_have_count(3)


def test_a_malformed_id_is_422_and_an_unknown_one_the_404_page(server: str) -> None:
    base, _ = _pair(server)
    malformed = httpx.get(f"{server}/compare", params={"base": base, "other": "xyz"})
    assert malformed.status_code == 422
    assert 'data-testid="error:other"' in malformed.text
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = httpx.get(f"{server}/compare", params={"base": base, "other": unknown})
    assert missing.status_code == 404
    assert f"other trace {unknown} not found" in missing.text
