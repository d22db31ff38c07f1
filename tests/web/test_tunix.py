"""The Tunix page in a real browser: the manifest form with the manifest model's own ranges and
defaults, its errors beside the fields, the YAML with its copy and download, the JSONL export,
and a short real run started from the manifest, watched live on its page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from tunix_rt.runs.manifest import RunManifest

DATASET = "arith-v1"
TRACES = 40
#: 32 training examples (the train split) in batches of 4: 8 steps an epoch. Enough epochs
#: that the loss curve is seen to grow across a few refreshes of the run's page.
EPOCHS = 15
STEPS = EPOCHS * 8
EVALUATION = {"evalset": "arithmetic-add-sub-v1", "limit": 4, "max_new_tokens": 16}


@pytest.fixture(scope="module")
def trace_ids(server: str) -> list[str]:
    """A dataset of arithmetic traces with a train and a val split; the ids of its traces."""
    with httpx.Client(base_url=server, timeout=60) as client:
        generated = client.post(
            "/api/generators/arithmetic/generate",
            json={"count": TRACES, "seed": 0, "params": {"digits": 2, "operation": "add"}},
        )
        assert generated.status_code == 201, generated.text
        built = client.post(
            "/api/datasets/build",
            json={
                "dataset_name": "arith",
                "dataset_version": "v1",
                "limit": TRACES,
                "filters": {"source": "arithmetic"},
                "splits": {"train": 0.8, "val": 0.2},
                "seed": 1,
            },
        )
        assert built.status_code == 201, built.text
        listed = client.get("/api/traces", params={"limit": TRACES}).json()["data"]
    return [trace["id"] for trace in listed]


def fill_manifest(page: Page, **values: str) -> None:
    page.goto("/tunix")
    page.get_by_test_id("tunix:dataset").select_option(DATASET)
    for name, value in values.items():
        if name == "evaluation.evalset":
            page.get_by_test_id("tunix:evalset").select_option(value)
        else:
            page.get_by_test_id(f"tunix:{name}").fill(value)


SHORT_RUN = {
    "num_epochs": str(EPOCHS),
    "batch_size": "4",
    "max_seq_length": "128",
    "evaluation.evalset": EVALUATION["evalset"],
    "evaluation.limit": str(EVALUATION["limit"]),
    "evaluation.max_new_tokens": str(EVALUATION["max_new_tokens"]),
}


def test_the_manifest_form_shows_the_models_defaults_and_ranges(page: Page) -> None:
    page.goto("/tunix")
    expect(page).to_have_title("Tunix · tunix-rt")
    expect(page.get_by_test_id("tunix:available")).to_have_text("installed")
    expect(page.get_by_test_id("tunix:version")).to_have_text("Tunix 0.1.7")
    expected = {
        # name: (value, min, max, step, hint)
        "learning_rate": ("0.003", "0", "1", "any", "above 0, up to 1; default 0.003"),
        "num_epochs": ("3", "1", "100", "1", "1 to 100; default 3"),
        "batch_size": ("8", "1", "512", "1", "1 to 512; default 8"),
        "max_seq_length": ("2048", "128", "32768", "1", "128 to 32,768; default 2,048"),
        "evaluation.limit": ("", "1", "1000000", "1", "1 to 1,000,000; default none"),
        "evaluation.max_new_tokens": ("256", "1", "8192", "1", "1 to 8,192; default 256"),
    }
    for name, (value, low, high, step, hint) in expected.items():
        field = page.get_by_test_id(f"tunix:{name}")
        expect(field).to_have_value(value)
        expect(field).to_have_attribute("type", "number")
        expect(field).to_have_attribute("min", low)
        expect(field).to_have_attribute("max", high)
        expect(field).to_have_attribute("step", step)
        expect(page.locator(f'[id="h-{name}"]')).to_have_text(hint)
    expect(page.get_by_test_id("tunix:model_id")).to_have_value("tunix-rt/tiny")
    expect(page.get_by_test_id("tunix:output_dir")).to_have_value("model")
    expect(page.get_by_test_id("tunix:evalset")).to_have_value("")
    expect(page.get_by_test_id("tunix:evalset").locator("option")).to_have_text(
        [
            "No evaluation",
            "arithmetic-v1 (120 items)",
            "arithmetic-add-sub-v1 (200 items)",
            "arithmetic-add-sub-2k-v1 (2,000 items)",
            "high-card-duel-v1 (200 items)",
        ]
    )
    expect(page.get_by_test_id("tunix:manifest-yaml")).to_have_count(0)


def test_an_out_of_range_value_is_shown_beside_its_field(page: Page, trace_ids: list[str]) -> None:
    fill_manifest(
        page, learning_rate="5", batch_size="0", **{"evaluation.evalset": EVALUATION["evalset"]}
    )
    page.get_by_test_id("tunix:evaluation.limit").fill("0")
    with page.expect_response(re.compile(r"/tunix/manifest$")) as answer:
        page.get_by_test_id("tunix:generate").click()
    assert answer.value.status == 422
    expect(page.get_by_test_id("error:learning_rate")).to_have_text(
        "Input should be less than or equal to 1"
    )
    expect(page.get_by_test_id("error:batch_size")).to_have_text(
        "Input should be greater than or equal to 1"
    )
    expect(page.get_by_test_id("error:evaluation.limit")).to_have_text(
        "Input should be greater than or equal to 1"
    )
    expect(page.get_by_test_id("error:num_epochs")).to_have_count(0)
    # The error stands beside its field, which keeps what was typed.
    field = page.get_by_test_id("tunix:learning_rate")
    expect(field).to_have_value("5")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "e-learning_rate")
    expect(page.get_by_test_id("tunix:dataset")).to_have_value(DATASET)
    expect(page.get_by_test_id("tunix:manifest-yaml")).to_have_count(0)

    page.goto("/tunix")
    page.get_by_test_id("tunix:generate").click()  # no dataset chosen
    expect(page.get_by_test_id("error:dataset_key")).to_have_text("Field required")


def test_a_manifest_is_generated_copied_and_downloaded(
    page: Page, server: str, trace_ids: list[str], tmp_path: Path
) -> None:
    fill_manifest(page, **SHORT_RUN)
    page.get_by_test_id("tunix:evaluation.base").check()
    page.get_by_test_id("tunix:generate").click()
    shown = page.get_by_test_id("tunix:manifest-yaml").inner_text()
    assert yaml.safe_load(shown) == {
        "version": "1.0",
        "runner": "tunix",
        "mode": "sft",
        "model": {"model_id": "tunix-rt/tiny"},
        "dataset": {
            "key": DATASET,
            "format": "tunix_sft",
            "path": f"datasets/{DATASET}/tunix_sft.jsonl",
        },
        "training": {
            "learning_rate": 0.003,
            "num_epochs": EPOCHS,
            "batch_size": 4,
            "max_seq_length": 128,
        },
        "output": {"output_dir": "model"},
        "evaluation": {**EVALUATION, "base": True},
    }
    # Without the evaluation, the manifest is the API's, byte for byte.
    request = {
        "dataset_key": DATASET,
        "model_id": "tunix-rt/tiny",
        "output_dir": "model",
        "num_epochs": EPOCHS,
        "batch_size": 4,
        "max_seq_length": 128,
    }
    api_yaml = httpx.post(f"{server}/api/tunix/sft/manifest", json=request).json()
    assert shown.startswith(api_yaml["manifest_yaml"])
    assert shown.removeprefix(api_yaml["manifest_yaml"]).startswith("evaluation:\n")

    with page.expect_download() as download:
        page.get_by_test_id("tunix:download").click()
    assert download.value.suggested_filename == f"{DATASET}-run.yaml"
    saved = tmp_path / "run.yaml"
    download.value.save_as(saved)
    assert saved.read_text() == shown

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.get_by_test_id("tunix:copy").click()
    expect(page.get_by_test_id("tunix:copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    check_page(page, "tunix")


def test_the_export_downloads_the_apis_jsonl(
    page: Page, server: str, trace_ids: list[str], tmp_path: Path
) -> None:
    def api(**body: Any) -> bytes:
        answer = httpx.post(f"{server}/api/tunix/sft/export", json=body)
        assert answer.status_code == 200, answer.text
        return answer.content

    def download(name: str) -> bytes:
        with page.expect_download() as started:
            page.get_by_test_id("tunix:export").click()
        assert started.value.suggested_filename == name
        target = tmp_path / name
        started.value.save_as(target)
        return target.read_bytes()

    page.goto("/tunix")
    page.get_by_test_id("tunix:export-dataset").select_option(DATASET)
    whole = download(f"{DATASET}.tunix_sft.jsonl")
    assert whole == api(dataset_key=DATASET)
    assert len(whole.splitlines()) == TRACES
    page.get_by_test_id("tunix:export-limit").fill("3")
    assert download(f"{DATASET}.tunix_sft.jsonl") == api(dataset_key=DATASET, limit=3)

    chosen = [trace_ids[5], trace_ids[0], trace_ids[9]]
    page.goto("/tunix")
    page.get_by_test_id("tunix:export-ids").fill(f"{chosen[0]}\n{chosen[1]}, {chosen[2]}\n")
    by_ids = download("traces.tunix_sft.jsonl")
    assert by_ids == api(trace_ids=chosen)
    assert [json.loads(line)["id"] for line in by_ids.splitlines()] == chosen

    page.get_by_test_id("tunix:export-ids").fill(f"{chosen[0]}\nnot-an-id")
    page.get_by_test_id("tunix:export").click()
    expect(page.get_by_test_id("error:export.trace_ids")).to_have_text(
        "'not-an-id' is not a trace id"
    )
    expect(page.get_by_test_id("tunix:export-ids")).to_have_value(f"{chosen[0]}\nnot-an-id")
    unknown = "00000000-0000-4000-8000-000000000000"
    page.get_by_test_id("tunix:export-ids").fill(unknown)
    page.get_by_test_id("tunix:export").click()
    expect(page.get_by_test_id("error:export.trace_ids")).to_have_text(
        f"trace(s) not found: {unknown}"
    )
    page.get_by_test_id("tunix:export-ids").fill("")
    page.get_by_test_id("tunix:export").click()
    expect(page.get_by_test_id("error:export")).to_have_text(
        "choose a dataset or give trace ids (one of them)"
    )


def test_the_forms_need_their_csrf_token_and_a_valid_manifest(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        client.get("/tunix")
        csrf = client.cookies["tunix_rt_csrf"]
        for path in ("/tunix/export", "/tunix/manifest", "/tunix/manifest/download", "/tunix/runs"):
            refused = client.post(path, data={"export.dataset_key": DATASET})
            assert refused.status_code == 403, path
        broken = client.post("/tunix/runs", data={"csrf_token": csrf, "manifest_yaml": "a: [1"})
        assert broken.status_code == 422
        assert "manifest is not valid YAML" in broken.text
        assert 'data-testid="error:manifest_yaml"' in broken.text
        unknown = client.post(
            "/tunix/manifest/download",
            data={"csrf_token": csrf, "manifest_yaml": "version: '1.0'\nmodel: {}\n"},
        )
        assert unknown.status_code == 422
        assert 'data-testid="sys:error"' in unknown.text


def points(page: Page, series: str) -> int:
    line = page.locator(f'[data-testid="run:loss-chart"] polyline[data-series="{series}"]')
    if line.count() == 0:
        return 0
    return int(line.get_attribute("data-points") or 0)


def test_a_run_started_from_the_manifest_trains_live_on_its_page(
    page: Page, server: str, trace_ids: list[str], tmp_path: Path
) -> None:
    fill_manifest(page, **SHORT_RUN)
    page.get_by_test_id("tunix:generate").click()
    shown = page.get_by_test_id("tunix:manifest-yaml").inner_text()
    page.get_by_test_id("tunix:start-run").click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
    run_id = page.url.rsplit("/", 1)[1]
    run = httpx.get(f"{server}/api/tunix/runs/{run_id}").json()
    assert RunManifest.model_validate(run["manifest"]).to_yaml() == shown
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # The curve grows while the run trains, without a reload.
    page.wait_for_function(
        '() => Number(document.querySelector(\'[data-testid="run:loss-chart"] '
        "polyline.s1')?.dataset.points || 0) > 0",
        timeout=240_000,
    )
    first = points(page, "train loss")
    assert 0 < first < STEPS
    page.wait_for_function(
        f'() => Number(document.querySelector(\'[data-testid="run:loss-chart"] '
        f"polyline.s1')?.dataset.points || 0) > {first}",
        timeout=60_000,
    )
    expect(page.get_by_test_id("run:status")).to_have_text("succeeded", timeout=120_000)
    assert points(page, "train loss") == STEPS
    assert points(page, "eval loss") == 1  # the eval split is scored at the last step
    expect(page.get_by_test_id("run:live")).to_have_attribute("data-final", "")
    expect(page.get_by_test_id("run:step")).to_have_text(f"{STEPS} of {STEPS}")
    expect(page.get_by_test_id("run:cancel")).to_have_count(0)
    log = page.get_by_test_id("run:log")
    expect(log).to_contain_text("step 1 loss ")
    expect(log).to_contain_text(f"run {run_id}: succeeded after {STEPS} steps")
    assert navigations == []

    with page.expect_download() as download:
        page.get_by_test_id("run:artifact").filter(has_text=re.compile("^manifest.yaml$")).click()
    saved = tmp_path / "manifest.yaml"
    download.value.save_as(saved)
    assert yaml.safe_load(saved.read_text()) == yaml.safe_load(shown)

    # The evaluation the manifest asks for is queued when the run succeeds, and linked.
    evaluation = page.get_by_test_id("run:evaluation").get_by_role("link")
    expect(evaluation).to_have_count(1, timeout=30_000)
    queued = httpx.get(f"{server}/api/tunix/runs/{run_id}/evaluation").json()
    expect(evaluation).to_have_attribute("href", f"/evaluations/{queued['id']}")
    check_page(page, "run")

    # Its page follows the evaluation until it ends, then shows the scorecard and the items.
    evaluation.click()
    expect(page).to_have_url(f"/evaluations/{queued['id']}")
    expect(page.get_by_test_id("eval:target")).to_have_text(EVALUATION["evalset"])
    expect(page.locator("#evaluation [data-status]").first).to_have_text(
        "succeeded", timeout=180_000
    )
    done = httpx.get(f"{server}/api/tunix/evaluations/{queued['id']}").json()
    expect(page.get_by_test_id("eval:accuracy")).to_have_text(
        f"{done['trained']['accuracy'] * 100:.1f} %"
    )
    expect(page.get_by_test_id("eval:progress")).to_have_count(0)
