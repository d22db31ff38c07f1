"""The datasets pages in a real browser: build through the form, the dataset's manifest,
statistics, histogram, downloads and preview, and the form's errors beside their fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from helpers.factories import make_trace
from tunix_rt.formats import FORMATS
from tunix_rt.web.formatting import MISSING

SOURCE = "web-ds"
#: Step counts of the seeded traces `make_trace(n)`, n = 0..11: three of 1, five of 2, four of 4.
STEPS = {n: 1 if n < 3 else 2 if n < 8 else 4 for n in range(12)}
#: `What is 91 + 91?` is an eval set's prompt: builds leave that trace out unless allowed.
EVAL_PROMPT_N = 91


@pytest.fixture(scope="module")
def seeded(server: str) -> str:
    traces = [make_trace(n, steps=s, source=SOURCE) for n, s in STEPS.items()]
    traces.append(make_trace(EVAL_PROMPT_N, steps=3, source=SOURCE))
    httpx.post(f"{server}/api/traces/batch", json=traces).raise_for_status()
    return server


def _fill(page: Page, **fields: str) -> None:
    """Fill the build form's fields, named as the form names them (`filters.source`)."""
    for name, value in fields.items():
        page.get_by_test_id(f"dataset:{name}").fill(value)


def _submit(page: Page) -> int:
    with page.expect_response(lambda r: r.url.endswith("/datasets/build")) as answer:
        page.get_by_test_id("dataset:build-submit").click()
    return answer.value.status


def _api_message(server: str, body: dict[str, Any]) -> str:
    """The message of the API's 422 for build request `body` (its only error)."""
    answer = httpx.post(f"{server}/api/datasets/build", json=body)
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    message: str = error["msg"]
    return message.removeprefix("Value error, ")


def _sft_line(trace_id: str, n: int, steps: int) -> bytes:
    """The `tunix_sft` line of trace `make_trace(n, steps=steps, source=SOURCE)`, written out."""
    prompt = f"<start_of_turn>user\nWhat is {n} + {n}?<end_of_turn>\n<start_of_turn>model\n"
    reasoning = "".join(f"{i + 1}. step {i} of {n}\n" for i in range(steps))
    completion = f"Reasoning:\n{reasoning}Answer: {2 * n}<end_of_turn>\n"
    record = {
        "id": trace_id,
        "prompts": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "final_answer": str(2 * n),
        "metadata": {
            "trace_id": trace_id,
            "source": SOURCE,
            "meta_json": f'{{"n":{n},"source":"{SOURCE}"}}',
        },
    }
    return orjson.dumps(record) + b"\n"


def test_build_a_dataset_with_splits_and_see_its_page(page: Page, seeded: str) -> None:
    server = seeded
    page.goto("/datasets")
    page.get_by_test_id("dataset:new").click()
    expect(page).to_have_url("/datasets/new")
    _fill(
        page,
        dataset_name="webds",
        dataset_version="1",
        **{"filters.source": SOURCE, "filters.created_after": "2020-01-01"},
        limit="50",
        seed="7",
        splits="train=0.75, eval=0.25",
    )
    page.get_by_test_id("dataset:selection_strategy").select_option("random")
    assert _submit(page) == 303
    expect(page).to_have_url("/datasets/webds-1?matching=12")
    expect(page).to_have_title("webds-1 · tunix-rt")
    expect(page.get_by_test_id("dataset:notice")).to_have_text(
        "Built webds-1: 12 traces, every trace that matched (1 with an eval set's prompt left out)."
    )

    manifest = httpx.get(f"{server}/api/datasets/webds-1").json()
    assert manifest["trace_count"] == 12
    assert manifest["filters"] == {"source": SOURCE, "created_after": "2020-01-01T00:00:00Z"}
    facts = page.get_by_test_id("dataset:manifest")
    expect(facts.get_by_test_id("dataset:fact-name")).to_have_text("webds")
    expect(facts.get_by_test_id("dataset:fact-version")).to_have_text("1")
    expect(facts.get_by_test_id("dataset:fact-strategy")).to_have_text("random")
    expect(facts.get_by_test_id("dataset:fact-seed")).to_have_text("7")
    expect(facts.get_by_test_id("dataset:fact-splits")).to_have_text("eval=0.25 train=0.75")
    expect(facts.get_by_test_id("dataset:fact-filters")).to_have_text(
        'created_after="2020-01-01T00:00:00Z" source="web-ds"'
    )
    expect(facts.get_by_test_id("dataset:fact-sha256")).to_have_text(manifest["export_sha256"])
    shown = orjson.loads(page.get_by_test_id("dataset:manifest-json").inner_text())
    assert shown == {k: v for k, v in manifest.items() if k != "trace_ids"}

    # 29 steps over 12 traces; splits of 12 at 0.75 / 0.25.
    assert manifest["stats"]["split_counts"] == {"eval": 3, "train": 9}
    stats = page.get_by_test_id("dataset:stats")
    expect(stats.get_by_test_id("dataset:stat-steps").locator("th, td")).to_have_text(
        ["Steps", "2.42", "1", "4"]
    )
    chars = manifest["stats"]
    expect(stats.get_by_test_id("dataset:stat-chars").locator("th, td")).to_have_text(
        ["Characters", f"{chars['avg_chars']:.1f}", MISSING, str(chars["max_chars"])]
    )
    expect(stats.get_by_test_id("dataset:stat-tokens").locator("th, td")).to_have_text(
        [
            "Tokens (estimated)",
            f"{chars['est_tokens_avg']:.1f}",
            MISSING,
            str(chars["est_tokens_max"]),
        ]
    )
    expect(page.get_by_test_id("dataset:split-counts").locator("li")).to_have_text(
        ["eval 3 (25 %)", "train 9 (75 %)"]
    )
    bars = page.get_by_test_id("dataset:histogram").locator("rect.bar")
    expect(bars).to_have_count(4)
    assert [bars.nth(i).get_attribute("data-label") for i in range(4)] == ["1", "2", "3", "4"]
    assert [bars.nth(i).get_attribute("data-value") for i in range(4)] == ["3", "5", "0", "4"]

    exports = page.get_by_test_id("dataset:exports")
    expect(exports.locator("tbody tr")).to_have_count(len(FORMATS))
    expect(exports.get_by_role("link", name="Download")).to_have_count(len(FORMATS) * 3)
    check_page(page, "dataset")

    page.goto("/datasets")
    row = page.locator('[data-testid="dataset:row"][data-key="webds-1"]')
    expect(row.get_by_test_id("dataset:trace-count")).to_have_text("12")
    expect(row.get_by_test_id("dataset:splits")).to_have_text("eval 3 train 9")
    row.get_by_test_id("dataset:key").click()
    expect(page).to_have_url("/datasets/webds-1")
    expect(page.get_by_test_id("dataset:notice")).to_have_count(0)
    page.goto("/datasets")
    check_page(page, "datasets")


def test_a_split_s_download_is_the_api_s_export(page: Page, seeded: str, tmp_path: Path) -> None:
    server = seeded
    body = {
        "dataset_name": "dl",
        "dataset_version": "1",
        "filters": {"source": SOURCE},
        "seed": 3,
        "splits": {"train": 0.5, "eval": 0.5},
    }
    httpx.post(f"{server}/api/datasets/build", json=body).raise_for_status()
    page.goto("/datasets/dl-1")
    with page.expect_download() as info:
        page.get_by_test_id("dataset:export-tunix_sft-train").click()
    download = info.value
    assert download.suggested_filename == "dl-1-train.tunix_sft.jsonl"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    api = httpx.get(f"{server}/api/datasets/dl-1/export.jsonl?format=tunix_sft&split=train")
    assert saved.read_bytes() == api.content
    lines = saved.read_bytes().splitlines(keepends=True)
    assert len(lines) == 6
    first = orjson.loads(lines[0])
    n = int(first["final_answer"]) // 2
    assert lines[0] == _sft_line(first["id"], n, STEPS[n])

    with page.expect_download() as info:  # the form: a format, a split and a system text
        page.locator("#f-format").select_option("messages")
        page.locator("#f-split").select_option("eval")
        page.get_by_test_id("dataset:export-system").fill("Be brief.")
        page.get_by_test_id("dataset:export-submit").click()
    assert info.value.suggested_filename == "dl-1-eval.messages.jsonl"
    system = info.value.path().read_bytes()
    query = "format=messages&split=eval&system=Be+brief."
    assert system == httpx.get(f"{server}/api/datasets/dl-1/export.jsonl?{query}").content
    assert orjson.loads(system.splitlines()[0])["messages"][0] == {
        "role": "system",
        "content": "Be brief.",
    }


def test_every_export_download_is_byte_identical_to_the_api_s(seeded: str) -> None:
    server = seeded
    body = {
        "dataset_name": "all",
        "dataset_version": "1",
        "filters": {"source": SOURCE},
        "seed": 1,
        "splits": {"a": 0.25, "b": 0.75},
    }
    httpx.post(f"{server}/api/datasets/build", json=body).raise_for_status()
    for fmt in FORMATS:
        for split in ("", "&split=a", "&split=b"):
            web = httpx.get(f"{server}/datasets/all-1/export?format={fmt}{split}")
            api = httpx.get(f"{server}/api/datasets/all-1/export.jsonl?format={fmt}{split}")
            assert web.status_code == api.status_code == 200
            assert web.content == api.content and web.content
            assert web.headers["etag"] == api.headers["etag"]
            name = f"all-1-{split[7:]}" if split else "all-1"
            assert web.headers["content-disposition"] == (
                f'attachment; filename="{name}.{fmt}.jsonl"'
            )
    refused = httpx.get(f"{server}/datasets/all-1/export?format=trace&split=c")
    assert refused.status_code == 422
    assert "dataset all-1 has no split &#39;c&#39; (splits: a, b)" in refused.text
    unknown = httpx.get(f"{server}/datasets/all-1/export?format=csv")
    assert unknown.status_code == 422
    manifest = httpx.get(f"{server}/datasets/all-1/manifest.json")
    assert manifest.headers["content-disposition"] == 'attachment; filename="all-1.manifest.json"'
    assert manifest.json() == httpx.get(f"{server}/api/datasets/all-1").json()


def test_the_preview_shows_the_prompt_completion_boundary(page: Page, seeded: str) -> None:
    server = seeded
    body = {"dataset_name": "pv", "dataset_version": "1", "filters": {"source": SOURCE}}
    httpx.post(f"{server}/api/datasets/build", json=body).raise_for_status()
    page.goto("/datasets/pv-1")
    preview = page.get_by_test_id("dataset:preview")
    expect(preview.get_by_test_id("dataset:preview-record")).to_have_count(3)
    api = httpx.get(f"{server}/api/datasets/pv-1/export.jsonl?format=tunix_sft").content
    records = [orjson.loads(line) for line in api.splitlines()[:3]]
    prompts = preview.get_by_test_id("dataset:prompt-part")
    completions = preview.get_by_test_id("dataset:completion-part")
    for index, record in enumerate(records):
        assert prompts.nth(index).text_content() == record["prompt"]
        assert completions.nth(index).text_content() == record["completion"]
        assert record["prompt"].endswith("<start_of_turn>model\n")
    style = "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).borderLeftWidth]"
    assert prompts.first.evaluate(style) != completions.first.evaluate(style)
    expect(preview).to_contain_text("The first 3 of 12 records.")


def test_bad_options_show_the_api_s_message_beside_their_field(page: Page, seeded: str) -> None:
    server = seeded
    name = {"dataset_name": "bad", "dataset_version": "1"}
    page.goto("/datasets/new")
    _fill(page, **name, seed="1", splits="train=1.5, eval=-0.5")
    assert _submit(page) == 422
    splits = {"train": 1.5, "eval": -0.5}
    expected = _api_message(server, {**name, "seed": 1, "splits": splits})
    assert expected == "split 'train': fraction must be in (0, 1]"
    expect(page.get_by_test_id("error:splits")).to_have_text(expected)
    expect(page.get_by_test_id("dataset:splits")).to_have_value("train=1.5, eval=-0.5")
    expect(page.get_by_test_id("dataset:seed")).to_have_value("1")
    expect(page.get_by_test_id("dataset:dataset_name")).to_have_value("bad")

    page.get_by_test_id("dataset:splits").fill("")
    strategy = page.get_by_test_id("dataset:selection_strategy")
    strategy.evaluate("s => { s.options[0].value = 'newest'; s.value = 'newest'; }")
    assert _submit(page) == 422
    expected = _api_message(server, {**name, "selection_strategy": "newest"})
    expect(page.get_by_test_id("error:selection_strategy")).to_have_text(expected)
    expect(page.get_by_test_id("error:splits")).to_have_count(0)

    _fill(page, **{"filters.created_after": "2026-13-01"})
    assert _submit(page) == 422
    expected = _api_message(server, {**name, "filters": {"created_after": "2026-13-01"}})
    expect(page.get_by_test_id("error:filters.created_after")).to_have_text(expected)
    expect(page.get_by_test_id("dataset:filters.created_after")).to_have_value("2026-13-01")

    _fill(page, **{"filters.created_after": "", "filters.source": "no-such-source"})
    assert _submit(page) == 422
    expect(page.get_by_test_id("error:filters")).to_have_text("no trace matches the filters")

    _fill(page, **{"filters.source": "", "filters.meta": "just-a-word"})
    assert _submit(page) == 422
    expect(page.get_by_test_id("error:filters.meta")).to_have_text(
        "takes KEY=VALUE, got 'just-a-word'"
    )
    _fill(page, **{"filters.meta": ""}, seed="")
    page.get_by_test_id("dataset:selection_strategy").select_option("random")
    assert _submit(page) == 422
    expected = _api_message(server, {**name, "selection_strategy": "random"})
    expect(page.get_by_test_id("error:form")).to_have_text(expected)
    check_page(page, "datasets-build")
    listed = httpx.get(f"{server}/api/datasets").json()["data"]
    assert "bad-1" not in [d["dataset_key"] for d in listed]


def test_a_build_says_how_many_of_the_matching_traces_it_took(page: Page, seeded: str) -> None:
    page.goto("/datasets/new")
    _fill(page, dataset_name="few", dataset_version="1", limit="5")
    _fill(page, **{"filters.source": SOURCE})
    assert _submit(page) == 303
    expect(page.get_by_test_id("dataset:notice")).to_have_text(
        "Built few-1: took 5 of 12 matching traces (raise the limit to take more) "
        "(1 with an eval set's prompt left out)."
    )
    page.goto("/datasets/new")
    _fill(page, dataset_name="held", dataset_version="1", **{"filters.source": SOURCE})
    page.get_by_test_id("dataset:allow_eval_prompts").check()
    page.get_by_test_id("dataset:dedupe").check()
    assert _submit(page) == 303
    expect(page.get_by_test_id("dataset:notice")).to_have_text(
        "Built held-1: 13 traces, every trace that matched."
    )
    manifest = httpx.get(f"{seeded}/api/datasets/held-1").json()
    assert (manifest["allow_eval_prompts"], manifest["dedupe"]) == (True, True)


def test_building_a_key_twice_shows_the_conflict(page: Page, seeded: str) -> None:
    server = seeded
    body = {"dataset_name": "dup", "dataset_version": "1", "filters": {"source": SOURCE}}
    httpx.post(f"{server}/api/datasets/build", json=body).raise_for_status()
    again = httpx.post(f"{server}/api/datasets/build", json=body)
    assert again.status_code == 409
    page.goto("/datasets/new")
    _fill(page, dataset_name="dup", dataset_version="1", **{"filters.source": SOURCE})
    assert _submit(page) == 409
    expect(page.get_by_test_id("error:form")).to_have_text(again.json()["detail"])
    expect(page.get_by_test_id("dataset:dataset_name")).to_have_value("dup")
    expect(page.get_by_test_id("dataset:filters.source")).to_have_value(SOURCE)


def test_delete_a_dataset_from_its_page(page: Page, seeded: str) -> None:
    body = {"dataset_name": "gone", "dataset_version": "1", "filters": {"source": SOURCE}}
    httpx.post(f"{seeded}/api/datasets/build", json=body).raise_for_status()
    page.goto("/datasets/gone-1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("dataset:delete").click()
    expect(page).to_have_url("/datasets?deleted=gone-1")
    expect(page.get_by_test_id("dataset:notice")).to_have_text(
        "Deleted dataset gone-1; its traces stay."
    )
    assert httpx.get(f"{seeded}/api/datasets/gone-1").status_code == 404


def test_an_unknown_or_malformed_key_is_the_404_page(page: Page) -> None:
    answer = page.goto("/datasets/nope-1")
    assert answer is not None and answer.status == 404
    expect(page.get_by_test_id("sys:error")).to_have_text("dataset nope-1 not found")
    answer = page.goto("/datasets/bad%20key")
    assert answer is not None and answer.status == 404
    expect(page.get_by_test_id("sys:error")).to_have_text(
        "no such page: the id or key in the address is malformed"
    )


def test_unknown_keys_of_the_downloads_are_404_and_posts_need_the_csrf_token(
    server: str,
) -> None:
    for path in ("/datasets/nope-1/export?format=trace", "/datasets/nope-1/manifest.json"):
        answer = httpx.get(f"{server}{path}")
        assert answer.status_code == 404
        assert "dataset nope-1 not found" in answer.text
    with httpx.Client(base_url=server) as client:
        client.get("/datasets/new")
        body = {"dataset_name": "csrf", "dataset_version": "1"}
        refused = client.post("/datasets/build", data=body)
        assert refused.status_code == 403 and "security token" in refused.text
        assert client.post("/datasets/nope-1/delete", data={}).status_code == 403
    assert httpx.get(f"{server}/api/datasets/csrf-1").status_code == 404
