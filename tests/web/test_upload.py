"""The upload page in a real browser: pasted traces, files, the example, the errors and limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from helpers.factories import make_trace, write_jsonl
from helpers.server import running_server
from tunix_rt.traces.upload import EXAMPLE_TRACE

TRACE_LINK = re.compile(r"^/traces/([0-9a-f-]{36})$")


def _count(server: str, source: str | None = None) -> int:
    params: dict[str, Any] = {"limit": 100} | ({"source": source} if source else {})
    response = httpx.get(f"{server}/api/traces", params=params)
    response.raise_for_status()
    data: list[Any] = response.json()["data"]
    assert len(data) < 100
    return len(data)


def _linked_ids(page: Page) -> list[str]:
    links = page.get_by_test_id("trace:upload-trace-link")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    matches = [TRACE_LINK.match(href) for href in hrefs]
    assert all(matches), hrefs
    return [match.group(1) for match in matches if match]


def _payload(server: str, trace_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server}/api/traces/{trace_id}")
    response.raise_for_status()
    payload: dict[str, Any] = response.json()["payload"]
    return payload


def test_a_pasted_trace_is_stored_and_linked(page: Page, server: str) -> None:
    trace = make_trace(7, source="pasted")
    page.goto("/upload")
    expect(page).to_have_title("Upload traces · tunix-rt")
    page.get_by_test_id("trace:upload-text").fill(
        orjson.dumps(trace, option=orjson.OPT_INDENT_2).decode()
    )
    page.get_by_test_id("trace:upload-paste-submit").click()
    expect(page.get_by_test_id("trace:upload-stored")).to_contain_text("Stored 1 trace")
    [trace_id] = _linked_ids(page)
    expect(page.get_by_test_id("trace:upload-trace-link")).to_have_text(trace_id)
    stored = _payload(server, trace_id)
    assert stored["prompt"] == "What is 7 + 7?"
    assert stored == trace
    check_page(page, "upload")
    page.get_by_test_id("trace:upload-trace-link").click()
    expect(page).to_have_url(f"/traces/{trace_id}")
    expect(page.get_by_test_id("trace:prompt")).to_have_text("What is 7 + 7?")
    expect(page.get_by_test_id("trace:step-content")).to_have_text(
        [step["content"] for step in trace["steps"]]
    )


def test_a_bad_trace_shows_each_error_beside_the_field(page: Page, server: str) -> None:
    before = _count(server)
    trace = make_trace(1, steps=[{"i": 0, "type": "reasoning"}], final_answer="")
    text = orjson.dumps(trace).decode()
    page.goto("/upload")
    page.get_by_test_id("trace:upload-text").fill(text)
    page.get_by_test_id("trace:upload-paste-submit").click()
    field = page.locator(".field", has=page.get_by_test_id("trace:upload-text"))
    expect(field.get_by_test_id("error:text")).to_have_text(
        "this trace is not valid; nothing was stored"
    )
    expect(field.get_by_test_id("trace:upload-problem")).to_have_text(
        ["steps.0.content: Field required", "final_answer: String should have at least 1 character"]
    )
    expect(page.get_by_test_id("trace:upload-text")).to_have_value(text)
    expect(page.get_by_test_id("trace:upload-text")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("trace:upload-text")).to_have_attribute("aria-describedby", "e-text")
    assert _count(server) == before
    check_page(page, "upload")


def test_a_json_lines_file_with_a_bad_line_stores_nothing(
    page: Page, server: str, tmp_path: Path
) -> None:
    lines: list[Any] = [make_trace(n, source="jsonl-file") for n in range(5)]
    lines[2] = make_trace(2, source="jsonl-file", prompt="")
    lines[4] = {"trace_version": "1.0"}
    bad = write_jsonl(tmp_path / "bad.jsonl", lines)
    before = _count(server)
    page.goto("/upload")
    page.get_by_test_id("trace:upload-file").set_input_files(bad)
    page.get_by_test_id("trace:upload-file-submit").click()
    field = page.locator(".field", has=page.get_by_test_id("trace:upload-file"))
    expect(field.get_by_test_id("error:file")).to_have_text(
        "2 of 5 lines are not valid traces; nothing was stored"
    )
    expect(field.get_by_test_id("trace:upload-problem")).to_have_text(
        [
            "line 3: prompt: String should have at least 1 character",
            "line 5: prompt: Field required; steps: Field required; final_answer: Field required",
        ]
    )
    assert _count(server) == before

    good = write_jsonl(
        tmp_path / "good.jsonl", [make_trace(n, source="jsonl-file") for n in range(4)]
    )
    page.get_by_test_id("trace:upload-file").set_input_files(good)
    page.get_by_test_id("trace:upload-file-submit").click()
    expect(page.get_by_test_id("trace:upload-stored")).to_contain_text("Stored 4 traces")
    ids = _linked_ids(page)
    assert [_payload(server, trace_id)["prompt"] for trace_id in ids] == [
        f"What is {n} + {n}?" for n in range(4)
    ]
    assert _count(server, "jsonl-file") == 4


def test_load_example_fills_a_trace_that_uploads(page: Page, server: str) -> None:
    page.goto("/upload")
    page.get_by_test_id("trace:upload-load-example").click()
    text = page.get_by_test_id("trace:upload-text").input_value()
    assert orjson.loads(text) == EXAMPLE_TRACE
    page.get_by_test_id("trace:upload-paste-submit").click()
    expect(page.get_by_test_id("trace:upload-stored")).to_contain_text("Stored 1 trace")
    [trace_id] = _linked_ids(page)
    assert _payload(server, trace_id) == EXAMPLE_TRACE


def test_the_example_is_on_the_page_without_script(page: Page) -> None:
    page.goto("/upload")
    page.get_by_test_id("trace:upload-example").locator("summary").click()
    shown = page.get_by_test_id("trace:upload-example").locator("code").inner_text()
    assert orjson.loads(shown) == EXAMPLE_TRACE


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(server: str) -> None:
    before = _count(server)
    text = orjson.dumps(make_trace(3)).decode()
    with httpx.Client(base_url=server) as client:
        client.get("/upload")
        refused = client.post("/upload", data={"text": text})
        assert refused.status_code == 403
        assert "security token" in refused.text
        as_file = client.post("/upload", files={"file": ("t.json", text.encode())})
        assert as_file.status_code == 403
    assert _count(server) == before


def _post(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    if "csrf_token" not in client.cookies:
        client.get("/upload")
    data = {"csrf_token": client.cookies["tunix_rt_csrf"], **kwargs.pop("data", {})}
    return client.post("/upload", data=data, **kwargs)


def test_pasted_text_over_the_text_box_limit_is_named(server: str) -> None:
    text = "x" * (1024 * 1024 + 1)
    with httpx.Client(base_url=server) as client:
        answer = _post(client, data={"text": text})
    assert answer.status_code == 422
    assert (
        "the pasted text is larger than 1 MiB, the most the text box takes; upload it as a file "
        "instead; nothing was stored"
    ) in answer.text


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = tmp_path_factory.mktemp("web-db") / "small.db"
    with running_server(
        f"sqlite+aiosqlite:///{database}",
        TUNIX_RT_TRACE_MAX_BYTES="1024",
        TUNIX_RT_BATCH_MAX_ITEMS="2",
    ) as base_url:
        yield base_url


def test_the_limits_are_the_apis_and_named(small_server: str, tmp_path: Path) -> None:
    three = orjson.dumps([make_trace(n) for n in range(3)]).decode()
    big = orjson.dumps(make_trace(1, prompt="p" * 1000)).decode()
    lines = write_jsonl(tmp_path / "three.jsonl", [make_trace(n) for n in range(3)])
    with httpx.Client(base_url=small_server) as client:
        too_many = _post(client, data={"text": three})
        too_large = _post(client, data={"text": big})
        file_too_many = _post(client, files={"file": ("three.jsonl", lines.read_bytes())})
        over_body = _post(client, files={"file": ("big.jsonl", b"x" * 2100)})
    assert too_many.status_code == too_large.status_code == file_too_many.status_code == 422
    many = "an upload holds at most 2 traces (TUNIX_RT_BATCH_MAX_ITEMS); this one has 3"
    assert f"{many}; nothing was stored" in too_many.text
    assert f"{many}; nothing was stored" in file_too_many.text
    assert (
        f"one trace may be at most 1,024 bytes (TUNIX_RT_TRACE_MAX_BYTES); this one has "
        f"{len(big):,}; nothing was stored"
    ) in too_large.text
    assert over_body.status_code == 413
    assert over_body.headers["content-type"] == "text/html"
    assert (
        '<p class="alert error" data-testid="sys:error">request body is larger than the limit '
        "of 2048 bytes</p>"
    ) in over_body.text
    assert httpx.get(f"{small_server}/api/traces").json()["data"] == []
    assert "1.0 KiB" in httpx.get(f"{small_server}/upload").text
