"""The generate page in a real browser: forms built from the ParamSpecs, Preview, Store."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from tunix_rt.generators import GENERATORS, generate
from tunix_rt.generators.service import PREVIEW_COUNT

TRACE_LINK = re.compile(r"^/traces/([0-9a-f-]{36})$")


def _count(server: str, source: str) -> int:
    response = httpx.get(f"{server}/api/traces", params={"source": source, "limit": 100})
    response.raise_for_status()
    data: list[Any] = response.json()["data"]
    assert len(data) < 100
    return len(data)


def test_high_card_duel_traces_are_previewed_then_stored(page: Page, server: str) -> None:
    expected = list(generate("high-card-duel", 5, 42))
    before = _count(server, "ungar")
    page.goto("/generate?name=high-card-duel")
    expect(page).to_have_title("Generate traces · tunix-rt")
    expect(page.locator('[data-testid="generate:pick"][aria-current="page"]')).to_contain_text(
        "high-card-duel"
    )
    page.get_by_test_id("generate:count").fill("5")
    page.get_by_test_id("generate:seed").fill("42")
    page.get_by_test_id("generate:preview").click()

    shown = page.get_by_test_id("generate:preview-trace")
    expect(shown).to_have_count(PREVIEW_COUNT)
    expect(page.get_by_test_id("generate:preview-note")).to_have_text(
        f"The first {PREVIEW_COUNT} of 5 high-card-duel traces; nothing is stored until you "
        "press Store."
    )
    for n in range(PREVIEW_COUNT):
        expect(shown.nth(n).get_by_test_id("generate:prompt")).to_have_text(expected[n].prompt)
        expect(shown.nth(n).get_by_test_id("generate:step")).to_have_text(
            [step.content for step in expected[n].steps]
        )
        expect(shown.nth(n).get_by_test_id("generate:answer")).to_have_text(
            expected[n].final_answer
        )
    assert _count(server, "ungar") == before
    expect(page.get_by_test_id("generate:count")).to_have_value("5")
    check_page(page, "generate")

    page.get_by_test_id("generate:store").click()
    expect(page.get_by_test_id("generate:stored")).to_contain_text("Stored 5 high-card-duel traces")
    assert _count(server, "ungar") == before + 5
    expect(page.get_by_test_id("generate:stored-link")).to_have_attribute(
        "href", "/traces?source=ungar"
    )
    links = page.get_by_test_id("generate:trace-link")
    expect(links).to_have_count(PREVIEW_COUNT)
    hrefs = [links.nth(n).get_attribute("href") or "" for n in range(PREVIEW_COUNT)]
    ids = [match.group(1) for href in hrefs if (match := TRACE_LINK.match(href))]
    assert len(ids) == PREVIEW_COUNT, hrefs
    stored = [httpx.get(f"{server}/api/traces/{i}").json()["payload"] for i in ids]
    assert stored == [trace.model_dump(mode="json") for trace in expected[:PREVIEW_COUNT]]
    check_page(page, "generate")
    links.first.click()
    expect(page).to_have_url(f"/traces/{ids[0]}")
    expect(page.get_by_test_id("trace:prompt")).to_have_text(expected[0].prompt)
    expect(page.get_by_test_id("trace:source")).to_have_text("ungar")
    expect(page.get_by_test_id("trace:answer")).to_have_text(expected[0].final_answer)


def test_every_generator_has_its_params_as_fields(page: Page) -> None:
    page.goto("/generate")
    picks = page.get_by_test_id("generate:pick")
    expect(picks.locator("strong")).to_have_text(list(GENERATORS))
    expect(page.locator('[data-testid="generate:pick"][aria-current="page"]')).to_contain_text(
        "high-card-duel"
    )
    for spec in GENERATORS.values():
        picks.filter(has_text=spec.name).click()
        expect(page.get_by_role("group", name=spec.name)).to_be_visible()
        for param in spec.params:
            control = page.get_by_test_id(f"generate:param-{param.name}")
            expect(control).to_have_value(str(param.default))
            expect(control).to_have_attribute("name", f"params.{param.name}")
            if param.choices:
                expect(control.locator("option")).to_have_text(list(param.choices))
            else:
                expect(control).to_have_attribute("min", str(param.minimum))
                expect(control).to_have_attribute("max", str(param.maximum))
        fields = page.locator('[data-testid="generate:form"] [name^="params."]')
        expect(fields).to_have_count(len(spec.params))
    check_page(page, "generate")


def test_bad_values_are_named_beside_their_fields(page: Page, server: str) -> None:
    before = _count(server, "arithmetic")
    page.goto("/generate?name=arithmetic")
    form = page.get_by_test_id("generate:form")
    form.evaluate("form => { form.noValidate = true; }")  # what the browser would refuse
    page.get_by_test_id("generate:param-digits").fill("11")
    page.get_by_test_id("generate:preview").click()
    field = page.locator(".field", has=page.get_by_test_id("generate:param-digits"))
    expect(field.get_by_test_id("error:params.digits")).to_have_text(
        "digits must be between 1 and 10, got 11"
    )
    expect(page.get_by_test_id("generate:param-digits")).to_have_value("11")

    form.evaluate("form => { form.noValidate = true; }")
    page.get_by_test_id("generate:param-digits").fill("2")
    page.get_by_test_id("generate:count").fill("0")
    page.get_by_test_id("generate:store").click()
    expect(page.get_by_test_id("error:count")).to_have_text(
        "Input should be greater than or equal to 1"
    )
    assert _count(server, "arithmetic") == before
    check_page(page, "generate")

    ungar = _count(server, "ungar")
    page.goto("/generate?name=high-card-duel")
    page.get_by_test_id("generate:count").fill("4")
    page.get_by_test_id("generate:seed").fill("1000000")
    page.get_by_test_id("generate:store").click()
    expect(page.get_by_test_id("error:seed")).to_have_text(
        "high-card-duel episode seeds 1000000..1999999 are reserved for eval sets; seeds "
        "1000000..1000003 overlap them"
    )
    assert _count(server, "ungar") == ungar


def test_an_unknown_generator_is_the_404_page(server: str) -> None:
    missing = httpx.get(f"{server}/generate", params={"name": "dice"})
    assert missing.status_code == 404
    assert "unknown generator &#39;dice&#39;" in missing.text


def test_a_post_without_the_csrf_token_is_refused(server: str) -> None:
    before = _count(server, "comparison_chain")
    with httpx.Client(base_url=server) as client:
        client.get("/generate")
        refused = client.post(
            "/generate", data={"name": "comparison-chain", "count": "3", "action": "store"}
        )
    assert refused.status_code == 403
    assert _count(server, "comparison_chain") == before
