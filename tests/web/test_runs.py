"""The runs pages in a real browser, on runs recorded the way the worker records them (the
server runs no executor here, so a queued run stays queued): the table with its filters and
pages, a run's facts, curves, log, artifacts and evaluations, the cancel button, and unknown
runs. The one web test that trains is in test_tunix.py."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from helpers.browser import check_page
from helpers.server import running_server
from tunix_rt.db.engine import create_engine
from tunix_rt.db.models import runs_table
from tunix_rt.evals import store as evals_store
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget
from tunix_rt.runs import jobs, store
from tunix_rt.runs.schema import MetricPoint

T = TypeVar("T")
START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LOG_LINES = 300
RESULT = {"max_steps": 30, "train_examples": 32, "eval_examples": 8, "parameters": 123456}


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a loop of its own (the browser's sync API holds this
    thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def manifest(key: str, model_id: str = "tunix-rt/tiny", mode: str = "sft") -> dict[str, Any]:
    return {
        **({} if mode == "sft" else {"mode": mode}),
        "model": {"model_id": model_id},
        "dataset": {"key": key, "path": f"datasets/{key}/tunix_sft.jsonl"},
        "training": {"max_steps": 30, "learning_rate": 0.003},
        "output": {"output_dir": "model"},
    }


def point(step: int) -> MetricPoint:
    return MetricPoint(
        step=step,
        loss=6.0 / step,
        learning_rate=0.003 * (1 - step / 40),
        tokens_per_second=1000.0 + step,
        eval_loss=5.0 / step if step % 10 == 0 else None,
        elapsed_seconds=2.0 * step,
    )


@dataclass
class Recorded:
    base_url: str
    database_url: str
    runs_dir: Path
    succeeded: uuid.UUID
    failed: uuid.UUID
    cancelled: uuid.UUID
    evaluation: uuid.UUID


async def record(database_url: str, runs_dir: Path) -> Recorded:
    """Three finished runs with fixed times; the succeeded one with 30 steps, a log, files and
    an evaluation."""
    engine = create_engine(database_url)
    try:
        ids = []
        for key, model_id, mode, status, created, started, seconds, error in (
            ("arith-v1", "tunix-rt/tiny", "sft", "succeeded", 0, 60, 75.0, None),
            (
                "arith-v1",
                "google/gemma-2b-it",
                "dpo",
                "failed",
                3600,
                3660,
                42.5,
                "MemoryError: boom",
            ),
            ("other-v1", "tunix-rt/tiny", "sft", "cancelled", 7200, None, None, "cancelled"),
        ):
            run_id = await store.create_run(
                engine, dataset_key=key, manifest=manifest(key, model_id, mode)
            )
            at = START + timedelta(seconds=created)
            begun = None if started is None else START + timedelta(seconds=started)
            ended = at if begun is None or seconds is None else begun + timedelta(seconds=seconds)
            async with engine.begin() as conn:
                await conn.execute(
                    update(runs_table)
                    .where(runs_table.c.id == run_id)
                    .values(
                        status=status,
                        created_at=at,
                        started_at=begun,
                        finished_at=ended,
                        error=error,
                        result=RESULT if status == "succeeded" else None,
                    )
                )
            ids.append(run_id)
        succeeded, failed, cancelled = ids
        await store.add_metrics(engine, succeeded, [point(step) for step in range(1, 31)])
        await store.add_metrics(
            engine,
            failed,  # a DPO run: its steps record the chosen-minus-rejected reward margin
            [
                point(step).model_copy(
                    update={"reward_margin": 0.1 * step, "reward_accuracy": 0.2 * step}
                )
                for step in range(1, 6)
            ],
        )
        evaluation = await evals_store.create_evaluation(
            engine,
            run_id=succeeded,
            model_id="tunix-rt/tiny",
            options=EvaluationOptions(evalset="arithmetic-add-sub-v1", limit=4),
            target=EvaluationTarget(
                kind="evalset", name="arithmetic-add-sub-v1", sha256="ab" * 32, items=4
            ),
        )
        await jobs.finish(
            engine, "evaluation", evaluation, "succeeded", accuracy=0.75, format_rate=1.0
        )
    finally:
        await engine.dispose()
    folder = runs_dir / str(succeeded)
    (folder / "model" / "checkpoints" / "30").mkdir(parents=True)
    (folder / "train.log").write_text("".join(f"line {i}\n" for i in range(LOG_LINES)))
    (folder / "manifest.yaml").write_text("model:\n  model_id: tunix-rt/tiny\n")
    (folder / "model" / "tokenizer.model").write_bytes(bytes(range(256)) * 4)
    (folder / "model" / "checkpoints" / "30" / "state").write_bytes(b"\x00" * 2048)
    return Recorded("", database_url, runs_dir, succeeded, failed, cancelled, evaluation)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    folder = tmp_path_factory.mktemp("web-runs")
    database_url = f"sqlite+aiosqlite:///{folder / 'web.db'}"
    with running_server(
        database_url,
        TUNIX_RT_RUN_EXECUTOR="false",
        TUNIX_RT_RUNS_DIR=str(folder / "runs"),
        TUNIX_RT_DATA_DIR=str(folder / "data"),
    ) as base_url:
        seeded = run_async(record(database_url, folder / "runs"))
        seeded.base_url = base_url
        yield seeded


@pytest.fixture(scope="module")
def server(recorded: Recorded) -> str:
    return recorded.base_url


def cells(page: Page, row: int) -> list[str]:
    return page.get_by_test_id("run:row").nth(row).locator("td").all_inner_texts()


def test_the_runs_table_shows_each_run_and_filters_and_pages(
    page: Page, recorded: Recorded
) -> None:
    page.goto("/runs")
    expect(page).to_have_title("Runs · tunix-rt")
    expect(page.get_by_test_id("run:row")).to_have_count(3)
    assert cells(page, 0) == [
        str(recorded.cancelled)[:8],
        "cancelled",
        "sft",
        "other-v1",
        "tunix-rt/tiny",
        "\u2013",
        "\u2013",
        "\u2013",
        "\u2013",
    ]
    assert cells(page, 1) == [
        str(recorded.failed)[:8],
        "failed",
        "dpo",
        "arith-v1",
        "google/gemma-2b-it",
        "5",
        "1.2000",
        "2026-03-01 11:01 UTC",
        "42.5 s",
    ]
    assert cells(page, 2) == [
        str(recorded.succeeded)[:8],
        "succeeded",
        "sft",
        "arith-v1",
        "tunix-rt/tiny",
        "30",
        "0.2000",
        "2026-03-01 10:01 UTC",
        "1 min 15 s",
    ]
    first = page.get_by_test_id("run:row").first.get_by_role("link").first
    expect(first).to_have_attribute("href", f"/runs/{recorded.cancelled}")
    check_page(page, "runs")

    page.get_by_test_id("run:filter-status").select_option("failed")
    page.get_by_test_id("run:filter").click()
    expect(page).to_have_url("/runs?status=failed&dataset_key=")
    expect(page.get_by_test_id("run:row")).to_have_count(1)
    assert cells(page, 0)[:2] == [str(recorded.failed)[:8], "failed"]
    expect(page.get_by_test_id("run:filter-status")).to_have_value("failed")

    page.get_by_test_id("run:filter-status").select_option("running")
    page.get_by_test_id("run:filter").click()
    expect(page.get_by_test_id("run:empty")).to_have_text("No runs match these filters.")

    page.goto("/runs?dataset_key=arith-v1")
    expect(page.get_by_test_id("run:row")).to_have_count(2)

    page.goto("/runs?limit=2")
    expect(page.get_by_test_id("run:row")).to_have_count(2)
    page.get_by_test_id("pager:next").click()
    expect(page).to_have_url("/runs?limit=2&offset=2")
    expect(page.get_by_test_id("run:row")).to_have_count(1)
    assert cells(page, 0)[0] == str(recorded.succeeded)[:8]
    expect(page.get_by_test_id("pager:next")).to_have_count(0)
    page.get_by_test_id("pager:previous").click()
    expect(page).to_have_url("/runs?limit=2&offset=0")
    expect(page.get_by_test_id("run:row")).to_have_count(2)


def test_a_run_page_shows_its_facts_curves_log_files_and_evaluations(
    page: Page, recorded: Recorded, tmp_path: Path
) -> None:
    page.goto(f"/runs/{recorded.succeeded}")
    expect(page).to_have_title(f"Run {str(recorded.succeeded)[:8]} · tunix-rt")
    expect(page.get_by_test_id("run:status")).to_have_text("succeeded")
    expect(page.get_by_test_id("run:live")).to_have_attribute("data-final", "")
    expect(page.locator("#run-evaluations")).to_have_attribute("data-final", "")
    expect(page.get_by_test_id("run:cancel")).to_have_count(0)
    expect(page.get_by_test_id("run:resume")).to_have_count(0)  # it succeeded
    expect(page.get_by_test_id("run:dataset")).to_have_text("arith-v1")
    expect(page.get_by_test_id("run:dataset")).to_have_attribute("href", "/datasets/arith-v1")
    expect(page.get_by_test_id("run:model")).to_have_text("tunix-rt/tiny (tiny)")
    expect(page.get_by_test_id("run:duration")).to_have_text("1 min 15 s")
    expect(page.get_by_test_id("run:step")).to_have_text("30 of 30")
    expect(page.get_by_test_id("run:loss")).to_have_text("0.2000")
    expect(page.get_by_test_id("run:eval-loss")).to_have_text("0.1667")
    expect(page.get_by_test_id("run:lr")).to_have_text("0.00075")
    expect(page.get_by_test_id("run:tokens-per-second")).to_have_text("1,030")

    chart = page.get_by_test_id("run:loss-chart")
    expect(chart.locator('polyline[data-series="train loss"]')).to_have_attribute(
        "data-points", "30"
    )
    expect(chart.locator('polyline[data-series="eval loss"]')).to_have_attribute("data-points", "3")
    expect(page.get_by_test_id("run:lr-chart").locator("polyline")).to_have_attribute(
        "data-points", "30"
    )

    log = page.get_by_test_id("run:log")
    assert log.inner_text().splitlines() == [f"line {i}" for i in range(LOG_LINES - 200, 300)]

    folder = recorded.runs_dir / str(recorded.succeeded)
    files = page.get_by_test_id("run:artifacts").get_by_test_id("run:artifact")
    expect(files).to_have_text(["manifest.yaml", "model/tokenizer.model", "train.log"])
    expect(page.get_by_test_id("run:checkpoints").locator("summary")).to_have_text(
        "Checkpoint files (1, 2.0 KiB)"
    )
    with page.expect_download() as download:
        files.nth(1).click()
    assert download.value.suggested_filename == "tokenizer.model"
    download.value.save_as(tmp_path / "tokenizer.model")
    assert (tmp_path / "tokenizer.model").read_bytes() == (
        folder / "model" / "tokenizer.model"
    ).read_bytes()
    page.get_by_test_id("run:checkpoints").locator("summary").click()
    with page.expect_download() as download:
        page.get_by_test_id("run:checkpoints").get_by_test_id("run:artifact").click()
    download.value.save_as(tmp_path / "state")
    assert (tmp_path / "state").read_bytes() == b"\x00" * 2048

    row = page.get_by_test_id("run:evaluation")
    expect(row).to_have_count(1)
    assert row.locator("td").all_inner_texts() == [
        str(recorded.evaluation)[:8],
        "succeeded",
        "arithmetic-add-sub-v1",
        "4",
        "75.0 %",
        "\u2013",
        "\u2013",
        row.locator("td").last.inner_text(),
    ]
    expect(row.get_by_role("link")).to_have_attribute("href", f"/evaluations/{recorded.evaluation}")
    check_page(page, "run")

    expect(page.get_by_test_id("run:preference-charts")).to_have_count(0)

    page.goto(f"/runs/{recorded.failed}")
    expect(page.get_by_test_id("run:mode")).to_have_text("dpo")
    for testid, series, last in (
        ("run:margin-chart", "reward margin", "reward margin: 0.5 at 5"),
        ("run:ranked-chart", "ranked right", "ranked right: 100 at 5"),
    ):
        chart = page.get_by_test_id(testid)
        expect(chart.locator(f'polyline[data-series="{series}"]')).to_have_attribute(
            "data-points", "5"
        )
        expect(chart.locator("circle title").last).to_have_text(last)
    check_page(page, "run-dpo-charts", at='[data-testid="run:preference-charts"]')
    expect(page.get_by_test_id("run:status")).to_have_text("failed")
    expect(page.get_by_test_id("run:error")).to_have_text("MemoryError: boom")
    expect(page.get_by_test_id("run:log")).to_have_text("The run wrote no log.")
    expect(page.get_by_test_id("run:no-artifacts")).to_have_text("No files yet.")
    expect(page.get_by_test_id("run:no-evaluations")).to_have_text("No evaluations of this run.")


def test_the_cancel_button_cancels_a_queued_run_and_stops_a_running_one(
    page: Page, recorded: Recorded
) -> None:
    queued = run_async(_create(recorded.database_url, "queued"))
    page.goto(f"/runs/{queued}")
    expect(page.get_by_test_id("run:status")).to_have_text("queued")
    expect(page.get_by_test_id("run:live")).not_to_have_attribute("data-final", "")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("run:cancel").click()
    expect(page).to_have_url(f"/runs/{queued}")
    expect(page.get_by_test_id("run:status")).to_have_text("cancelled")
    expect(page.get_by_test_id("run:error")).to_have_text("cancelled before it started")
    expect(page.get_by_test_id("run:cancel")).to_have_count(0)
    expect(page.get_by_test_id("run:live")).to_have_attribute("data-final", "")

    running = run_async(_create(recorded.database_url, "running"))
    page.goto(f"/runs/{running}")
    expect(page.get_by_test_id("run:status")).to_have_text("running")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id("run:cancel").click()  # asked, and not confirmed: nothing happens
    expect(page.get_by_test_id("run:cancelling")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("run:cancel").click()
    expect(page.get_by_test_id("run:cancelling")).to_have_text("stopping at its next step…")
    expect(page.get_by_test_id("run:cancel")).to_be_disabled()
    run = httpx.get(f"{recorded.base_url}/api/tunix/runs/{running}").json()
    assert (run["status"], run["cancel_requested"]) == ("running", True)


def test_the_resume_button_queues_a_failed_run_again(page: Page, recorded: Recorded) -> None:
    """A failed run's page has a Resume button (and no Cancel button); pressed, the run is
    queued again, from the checkpoint in its folder, and the page shows the Cancel button."""
    failed = run_async(_create(recorded.database_url, "failed"))
    (recorded.runs_dir / str(failed) / "model" / "checkpoints" / "20").mkdir(parents=True)
    page.goto(f"/runs/{failed}")
    expect(page.get_by_test_id("run:status")).to_have_text("failed")
    expect(page.get_by_test_id("run:cancel")).to_have_count(0)
    check_page(page, "run-resume")
    page.get_by_test_id("run:resume").click()
    expect(page).to_have_url(f"/runs/{failed}")
    expect(page.get_by_test_id("run:status")).to_have_text("queued")
    expect(page.get_by_test_id("run:resume")).to_have_count(0)
    expect(page.get_by_test_id("run:cancel")).to_be_visible()
    run = httpx.get(f"{recorded.base_url}/api/tunix/runs/{failed}").json()
    assert (run["status"], run["error"], run["finished_at"]) == ("queued", None, None)


async def _create(database_url: str, status: str) -> uuid.UUID:
    engine = create_engine(database_url)
    try:
        return await store.create_run(
            engine, dataset_key="arith-v1", manifest=manifest("arith-v1"), status=status
        )
    finally:
        await engine.dispose()


def test_an_unknown_run_is_the_404_page(page: Page, recorded: Recorded) -> None:
    unknown = uuid.uuid4()
    response = page.goto(f"/runs/{unknown}")
    assert response is not None and response.status == 404
    expect(page).to_have_title("Not found · tunix-rt")
    expect(page.get_by_test_id("sys:error")).to_have_text(f"run {unknown} not found")
    response = page.goto("/runs/not-a-run-id")
    assert response is not None and response.status == 404
    base = recorded.base_url
    succeeded = recorded.succeeded
    for path in (
        f"/runs/{unknown}/artifacts/train.log",
        f"/runs/{succeeded}/artifacts/nope.txt",
        f"/runs/{succeeded}/artifacts/..%2F..%2Fweb.db",
        f"/runs/{succeeded}/artifacts/model",
    ):
        answer = httpx.get(f"{base}{path}")
        assert answer.status_code == 404, path
        assert 'data-testid="sys:error"' in answer.text
    assert httpx.get(f"{base}/runs?status=bogus").status_code == 422


def test_cancel_and_resume_need_the_csrf_token_and_a_run_they_apply_to(recorded: Recorded) -> None:
    with httpx.Client(base_url=recorded.base_url) as client:
        client.get("/runs")
        path = f"/runs/{recorded.succeeded}/cancel"
        assert client.post(path).status_code == 403
        ended = client.post(path, data={"csrf_token": client.cookies["tunix_rt_csrf"]})
        assert ended.status_code == 409
        assert re.search(rf"run {recorded.succeeded} already succeeded", ended.text)
        unknown = client.post(
            f"/runs/{uuid.uuid4()}/cancel", data={"csrf_token": client.cookies["tunix_rt_csrf"]}
        )
        assert unknown.status_code == 404
        resume = f"/runs/{recorded.succeeded}/resume"
        assert client.post(resume).status_code == 403
        refused = client.post(resume, data={"csrf_token": client.cookies["tunix_rt_csrf"]})
        assert refused.status_code == 409
        assert f"run {recorded.succeeded} is succeeded: only a failed or cancelled run" in (
            refused.text
        )
