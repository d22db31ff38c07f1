"""The traces pages in a real browser: the list with its filters and pages, one trace, scoring
it and deleting it."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from playwright.sync_api import Browser, Page, expect

from helpers.browser import PageErrors, axe_violations, check_page
from helpers.factories import make_trace
from tunix_rt.web.formatting import when


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _seed(server: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store each body through the API, one after the other (so each is newer than the last)."""
    created = []
    for body in bodies:
        response = httpx.post(f"{server}/api/traces", json=body)
        response.raise_for_status()
        created.append(response.json())
    return created


def _rows(page: Page, testid: str) -> list[str]:
    return page.get_by_test_id(testid).all_inner_texts()


def test_the_list_shows_traces_newest_first(page: Page, server: str) -> None:
    source = f"list-{_tag()}"
    bodies = [make_trace(n, steps=n + 1, source=source) for n in range(3)]
    bodies.append(make_trace(3, source=None, prompt="Name a prime. " + "a" * 200))
    created = _seed(server, bodies)

    page.goto("/traces")
    expect(page).to_have_title("Traces · tunix-rt")
    rows = page.get_by_test_id("trace:row")
    expect(rows.nth(3)).to_be_visible()
    assert _rows(page, "trace:row-prompt")[:4] == [
        "Name a prime. " + "a" * 146 + "\u2026",
        "What is 2 + 2?",
        "What is 1 + 1?",
        "What is 0 + 0?",
    ]
    assert _rows(page, "trace:row-source")[:4] == ["\u2013", source, source, source]
    assert _rows(page, "trace:row-steps")[:4] == ["3", "3", "2", "1"]
    newest = [c["id"] for c in reversed(created)]
    assert _rows(page, "trace:link")[:4] == [trace_id[:8] for trace_id in newest]
    links = page.get_by_test_id("trace:link")
    assert [links.nth(i).get_attribute("href") for i in range(4)] == [
        f"/traces/{trace_id}" for trace_id in newest
    ]
    expect(rows.first.locator("time")).to_have_text(
        when(datetime.fromisoformat(created[-1]["created_at"]))
    )
    check_page(page, "traces")


def test_the_filters_narrow_the_list_by_source_and_prompt_text(page: Page, server: str) -> None:
    tag = _tag()
    _seed(
        server,
        [
            make_trace(1, source=f"a-{tag}", prompt=f"Apples {tag}?"),
            make_trace(2, source=f"b-{tag}", prompt=f"Pears {tag}?"),
            make_trace(3, source=f"a-{tag}", prompt=f"Plums {tag}?"),
            make_trace(4, source=f"a-{tag}", prompt=f"More apples {tag}?"),
        ],
    )
    page.goto("/traces")
    page.get_by_label("Source").fill(f"a-{tag}")
    page.get_by_test_id("trace:filter-submit").click()
    expect(page).to_have_url(re.compile(rf"source=a-{tag}"))
    expect(page.get_by_test_id("trace:row-prompt")).to_have_text(
        [f"More apples {tag}?", f"Plums {tag}?", f"Apples {tag}?"]
    )
    expect(page.get_by_label("Source")).to_have_value(f"a-{tag}")

    page.get_by_label("Prompt contains").fill(f"APPLES {tag}")
    page.get_by_test_id("trace:filter-submit").click()
    expect(page.get_by_test_id("trace:row-prompt")).to_have_text(
        [f"More apples {tag}?", f"Apples {tag}?"]
    )

    page.get_by_label("Source").fill(f"b-{tag}")
    page.get_by_test_id("trace:filter-submit").click()
    expect(page.get_by_test_id("trace:empty")).to_have_text(
        "No trace matches these filters. Show every trace."
    )
    page.get_by_test_id("trace:filter-clear").click()
    expect(page).to_have_url("/traces")
    expect(page.get_by_label("Source")).to_have_value("")


def test_the_time_filters_read_dates_and_times_as_utc(page: Page, server: str) -> None:
    source = f"time-{_tag()}"
    older, newer = _seed(server, [make_trace(1, source=source), make_trace(2, source=source)])
    newer_at = datetime.fromisoformat(newer["created_at"])
    naive_utc = newer_at.replace(tzinfo=None).isoformat()

    page.goto(f"/traces?source={source}&created_before={naive_utc}")
    expect(page.get_by_test_id("trace:link")).to_have_text([older["id"][:8]])
    page.goto(f"/traces?source={source}&created_after={naive_utc}")
    expect(page.get_by_test_id("trace:link")).to_have_text([newer["id"][:8]])
    shifted = newer_at.astimezone(timezone(timedelta(hours=2))).isoformat()  # the same instant
    page.goto(f"/traces?source={source}&created_after={quote(shifted)}")
    expect(page.get_by_test_id("trace:link")).to_have_text([newer["id"][:8]])
    page.get_by_label("Created from").fill(newer_at.date().isoformat())
    page.get_by_label("Created before").fill("2000-01-01")
    page.get_by_test_id("trace:filter-submit").click()
    expect(page.get_by_test_id("trace:empty")).to_have_text(
        "No trace matches these filters. Show every trace."
    )


def test_a_bad_time_is_shown_beside_its_field(page: Page, server: str) -> None:
    page.goto("/traces")
    page.get_by_label("Source").fill("anything")
    page.get_by_label("Created from").fill("yesterday")
    with page.expect_navigation() as navigation:
        page.get_by_test_id("trace:filter-submit").click()
    response = navigation.value
    assert response is not None and response.status == 422
    error = page.get_by_test_id("error:created_after")
    expect(error).to_have_text("Input should be a valid datetime or date, input is too short")
    expect(page.get_by_label("Created from")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Created from")).to_have_value("yesterday")
    expect(page.get_by_label("Source")).to_have_value("anything")
    expect(page.get_by_test_id("error:created_before")).to_have_count(0)
    expect(page.get_by_test_id("trace:empty")).to_have_text(
        "Correct the filters above to see traces."
    )
    expect(page.get_by_test_id("trace:table")).to_have_count(0)


def test_next_page_keeps_the_filters_and_shows_the_next_traces(page: Page, server: str) -> None:
    source = f"pages-{_tag()}"
    created = _seed(server, [make_trace(n, source=source) for n in range(5)])
    newest = [c["id"][:8] for c in reversed(created)]
    _seed(server, [make_trace(9, source=f"other-{source}")])

    page.goto(f"/traces?source={source}&limit=2")
    links = page.get_by_test_id("trace:link")
    expect(links).to_have_text(newest[:2])
    expect(page.get_by_test_id("pager:first")).to_have_count(0)
    page.get_by_test_id("pager:next").click()
    expect(page).to_have_url(
        re.compile(rf"^{re.escape(server)}/traces\?source={source}&limit=2&cursor=")
    )
    expect(links).to_have_text(newest[2:4])
    expect(page.get_by_label("Source")).to_have_value(source)
    expect(page.get_by_label("Per page")).to_have_value("2")
    page.get_by_test_id("pager:next").click()
    expect(links).to_have_text(newest[4:])
    expect(page.get_by_test_id("pager:next")).to_have_count(0)
    page.get_by_test_id("pager:first").click()
    expect(page).to_have_url(f"/traces?source={source}&limit=2")
    expect(links).to_have_text(newest[:2])


def test_a_foreign_cursor_or_limit_is_refused_by_name(server: str) -> None:
    bad_cursor = httpx.get(f"{server}/traces?cursor=nonsense")
    assert bad_cursor.status_code == 422
    assert 'data-testid="error:cursor">cursor is not one that a trace list returned' in (
        bad_cursor.text
    )
    bad_limit = httpx.get(f"{server}/traces?limit=101")
    assert bad_limit.status_code == 422
    assert 'data-testid="error:limit">Input should be less than or equal to 100<' in bad_limit.text


def test_the_detail_shows_prompt_steps_answer_and_meta(page: Page, server: str) -> None:
    source = f"detail-{_tag()}"
    steps = [
        {"i": 2, "type": "check", "content": "4 is even."},
        {"i": 0, "type": "parse", "content": "Two and two.\nAdd them."},
        {"i": 1, "type": "reasoning", "content": "2 + 2 = 4"},
    ]
    meta = {"source": source, "expected_answer": "4", "n": 7, "tags": ["a", "b"], "ok": True}
    body = make_trace(7, steps=steps, prompt="What is 2 + 2?", final_answer="4", meta=meta)
    (created,) = _seed(server, [body])

    page.goto(f"/traces?source={source}")
    page.get_by_test_id("trace:link").click()
    expect(page).to_have_url(f"/traces/{created['id']}")
    expect(page).to_have_title(f"Trace {created['id'][:8]} · tunix-rt")
    expect(page.get_by_test_id("trace:id")).to_have_text(created["id"])
    expect(page.get_by_test_id("trace:source")).to_have_text(source)
    expect(page.get_by_test_id("trace:datasets")).to_have_text("none")
    expect(page.get_by_test_id("trace:prompt")).to_have_text("What is 2 + 2?")
    expect(page.get_by_test_id("trace:step-no")).to_have_text(["1", "2", "3"])
    expect(page.get_by_test_id("trace:step-type")).to_have_text(["parse", "reasoning", "check"])
    expect(page.get_by_test_id("trace:step-content")).to_have_text(
        ["Two and two.\nAdd them.", "2 + 2 = 4", "4 is even."]
    )
    expect(page.get_by_test_id("trace:answer")).to_have_text("4")
    meta_list = page.get_by_test_id("trace:meta")
    expect(meta_list.locator("dt")).to_have_text(["expected_answer", "n", "ok", "source", "tags"])
    expect(meta_list.locator("dd")).to_have_text(["4", "7", "yes", source, '["a", "b"]'])
    expect(page.get_by_test_id("trace:no-scores")).to_have_text("Not scored yet.")
    check_page(page, "trace")


def test_scoring_shows_the_score_and_its_breakdown(page: Page, server: str) -> None:
    steps = [{"i": i, "type": "reasoning", "content": "x" * 100} for i in range(4)]
    body = make_trace(5, steps=steps, meta={"expected_answer": "10.", "source": "s"})
    (created,) = _seed(server, [body])
    page.goto(f"/traces/{created['id']}")

    page.get_by_test_id("trace:score-baseline").click()
    expect(page).to_have_url(f"/traces/{created['id']}?scored=baseline#score-baseline")
    expect(page.get_by_test_id("trace:notice")).to_have_text(
        "Scored under baseline: 30.0 of 100."  # 4 of 10 steps: 20; 100 of 500 chars: 10
    )
    card = page.locator("#score-baseline")
    expect(card.get_by_test_id("trace:score-value")).to_have_text("30.0")
    details = card.get_by_test_id("trace:score-details")
    expect(details.locator("dt")).to_have_text(
        ["avg step length", "length score", "step count", "step score", "total chars", "scored"]
    )
    expect(details.locator("dd").nth(0)).to_have_text("100.00")
    expect(details.locator("dd").nth(1)).to_have_text("10.00")
    expect(details.locator("dd").nth(2)).to_have_text("4")
    expect(details.locator("dd").nth(3)).to_have_text("20.00")
    expect(details.locator("dd").nth(4)).to_have_text("400")
    stored = httpx.post(f"{server}/api/traces/{created['id']}/score", json={}).json()
    assert stored["score"] == 30.0

    page.get_by_test_id("trace:score-answer_match").click()
    expect(page.get_by_test_id("trace:notice")).to_have_text(
        "Scored under answer_match: 100.0 of 100."
    )
    expect(page.get_by_test_id("trace:score-criteria")).to_have_text(["answer_match", "baseline"])
    matched = page.locator("#score-answer_match")
    expect(matched.get_by_test_id("trace:score-matched")).to_have_text("yes")
    expect(matched.get_by_test_id("trace:score-expected_answer")).to_have_text("10.")
    expect(matched.get_by_test_id("trace:score-normalized_expected")).to_have_text("10")


def test_a_criteria_the_trace_cannot_be_scored_by_is_explained(page: Page, server: str) -> None:
    (created,) = _seed(server, [make_trace(6)])
    page.goto(f"/traces/{created['id']}")
    with page.expect_navigation() as navigation:
        page.get_by_test_id("trace:score-answer_match").click()
    response = navigation.value
    assert response is not None and response.status == 422
    expect(page.get_by_test_id("error:criteria")).to_have_text(
        "criteria answer_match needs meta.expected_answer (a non-empty string or an integer) "
        "and this trace has none; use criteria baseline"
    )
    expect(page.get_by_test_id("trace:no-scores")).to_have_text("Not scored yet.")


def test_deleting_asks_first_then_removes_the_trace(page: Page, server: str) -> None:
    (created,) = _seed(server, [make_trace(8)])
    page.goto(f"/traces/{created['id']}")
    messages: list[str] = []

    def dismiss(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_test_id("trace:delete").click()
    expect(page).to_have_url(f"/traces/{created['id']}")
    assert messages == [f"Delete trace {created['id'][:8]} and its scores? This cannot be undone."]
    assert httpx.get(f"{server}/api/traces/{created['id']}").status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("trace:delete").click()
    expect(page).to_have_url(f"/traces?deleted={created['id']}")
    expect(page.get_by_test_id("trace:notice")).to_have_text(
        f"Trace {created['id'][:8]} was deleted."
    )
    assert httpx.get(f"{server}/api/traces/{created['id']}").status_code == 404


def test_without_javascript_deleting_asks_on_a_page_of_its_own(
    browser: Browser, server: str
) -> None:
    (created,) = _seed(server, [make_trace(9, prompt="Delete me?")])
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    errors = PageErrors()
    errors.watch(page)
    try:
        page.goto(f"/traces/{created['id']}")
        page.get_by_test_id("trace:delete").click()
        expect(page.locator("h1")).to_have_text("Delete this trace?")
        expect(page.get_by_test_id("trace:prompt")).to_have_text("Delete me?")
        assert httpx.get(f"{server}/api/traces/{created['id']}").status_code == 200
        page.get_by_test_id("trace:delete-cancel").click()
        expect(page).to_have_url(f"/traces/{created['id']}")

        page.goto(f"/traces/{created['id']}/delete")
        page.get_by_test_id("trace:delete-confirm").click()
        expect(page).to_have_url(f"/traces?deleted={created['id']}")
        expect(page.get_by_test_id("trace:notice")).to_have_text(
            f"Trace {created['id'][:8]} was deleted."
        )
        assert httpx.get(f"{server}/api/traces/{created['id']}").status_code == 404
    finally:
        context.close()
    assert errors.messages == []


def test_deleting_a_trace_a_dataset_holds_names_the_dataset(page: Page, server: str) -> None:
    source = f"held-{_tag()}"
    (created,) = _seed(server, [make_trace(10, source=source)])
    for version in ("1", "2"):
        built = httpx.post(
            f"{server}/api/datasets/build",
            json={
                "dataset_name": source,
                "dataset_version": version,
                "filters": {"source": source},
            },
        )
        assert built.status_code == 201, built.text
    page.goto(f"/traces/{created['id']}")
    expect(page.get_by_test_id("trace:datasets")).to_have_text(f"{source}-1, {source}-2")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation() as navigation:
        page.get_by_test_id("trace:delete").click()
    response = navigation.value
    assert response is not None and response.status == 409
    conflict = page.get_by_test_id("trace:delete-conflict")
    expect(conflict).to_have_text(
        f"This trace was not deleted. It belongs to datasets {source}-1, {source}-2. Datasets "
        "are immutable, so a trace stays as long as a dataset holds it: delete those datasets "
        "first, then this trace."
    )
    expect(conflict.get_by_role("link", name=f"{source}-1")).to_have_attribute(
        "href", f"/datasets/{source}-1"
    )
    expect(page.get_by_test_id("trace:prompt")).to_have_text("What is 10 + 10?")
    assert httpx.get(f"{server}/api/traces/{created['id']}").status_code == 200

    page.goto(f"/traces/{created['id']}/delete")
    expect(page.locator(".alert.info")).to_have_text(
        f"It belongs to datasets {source}-1, {source}-2, so deleting it will be refused until "
        "those datasets are deleted."
    )
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], scheme


def test_an_unknown_trace_is_the_404_page(page: Page, server: str) -> None:
    missing = uuid.uuid4()
    for path in (f"/traces/{missing}", f"/traces/{missing}/delete"):
        response = page.goto(path)
        assert response is not None and response.status == 404
        expect(page.get_by_test_id("sys:error")).to_have_text(f"trace {missing} not found")
    response = page.goto("/traces/not-a-uuid")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("404 · Not found")


def test_posts_need_the_csrf_token_and_a_known_trace(server: str) -> None:
    (created,) = _seed(server, [make_trace(11)])
    with httpx.Client(base_url=server) as client:
        client.get("/traces")
        csrf = client.cookies["tunix_rt_csrf"]
        refused = client.post(f"/traces/{created['id']}/delete", data={})
        assert refused.status_code == 403
        assert client.get(f"/api/traces/{created['id']}").status_code == 200
        unknown = client.post(
            f"/traces/{uuid.uuid4()}/score", data={"criteria": "baseline", "csrf_token": csrf}
        )
        assert unknown.status_code == 404
        bad = client.post(
            f"/traces/{created['id']}/score", data={"criteria": "best", "csrf_token": csrf}
        )
        assert bad.status_code == 422
        assert (
            'data-testid="error:criteria">choose one of the criteria: baseline, answer_match<'
            in (bad.text)
        )
        gone = client.post(f"/traces/{created['id']}/delete", data={"csrf_token": csrf})
        assert (gone.status_code, gone.headers["location"]) == (
            303,
            f"/traces?deleted={created['id']}",
        )
        again = client.post(f"/traces/{created['id']}/delete", data={"csrf_token": csrf})
        assert again.status_code == 404
