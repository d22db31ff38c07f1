"""A GRPO run's page in a real browser, on a run recorded the way the worker records one (its
metrics through the store, its rollouts in the file training writes; the server runs no
executor): the mode, the reward summary, the reward, spread and KL charts, the rollouts by
group with their scores, the step selector, live updates while it trains, and a missing step."""

from __future__ import annotations

import asyncio
import json
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

from conftest import BACKENDS, module_database
from helpers.browser import check_page
from helpers.server import running_server
from tunix_rt.db.engine import create_engine
from tunix_rt.db.models import runs_table
from tunix_rt.runs import jobs, store
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.runs.schema import MetricPoint, RewardStats

T = TypeVar("T")
STEPS = 12
PROMPT_ADD = "<start_of_turn>user\nWhat is 12 + 30?<end_of_turn>\n<start_of_turn>model\n"
PROMPT_SUB = "<start_of_turn>user\nWhat is 7 - 3?<end_of_turn>\n<start_of_turn>model\n"
RIGHT = "Reasoning: 12 + 30 = 42\nAnswer: 42<end_of_turn>"
WRONG = "Reasoning: <b>guess</b> & hope\nAnswer: 41"
TRACE_ADD = "0f3c2a9e-1111-4a5b-8c7d-000000000001"
TRACE_SUB = "5b81d4c7-2222-4a5b-8c7d-000000000002"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own (the browser's sync API holds this thread's)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def grpo_manifest(init_from_run: uuid.UUID, *, beta: float, every: int) -> dict[str, Any]:
    return RunManifest.model_validate(
        {
            "mode": "grpo",
            "model": {"model_id": "tunix-rt/tiny", "init_from_run": str(init_from_run)},
            "dataset": {"key": "arith-v1"},
            "training": {"batch_size": 2, "max_steps": STEPS},
            "grpo": {"num_generations": 2, "beta": beta, "rollouts_every_n_steps": every},
            "rewards": [{"name": "answer", "weight": 1.0}, {"name": "format", "weight": 0.2}],
            "output": {"output_dir": "model"},
        }
    ).model_dump(mode="json")


def grpo_point(step: int, *, kl: bool = True) -> MetricPoint:
    return MetricPoint(
        step=step,
        loss=0.02 * step,
        learning_rate=1e-4,
        tokens_per_second=500.0 + step,
        eval_loss=None,
        elapsed_seconds=3.0 * step,
        kl=0.001 * step if kl else None,
        reward_mean=0.05 * step,
        reward_std=0.25,
        rewards={
            "answer": RewardStats(mean=0.04 * step, std=0.5),
            "format": RewardStats(mean=0.05 * step, std=0.4),
        },
        completion_tokens=20.0 + step,
        clip_fraction=0.05,
        groups_with_spread=0.5 + step / 48,
    )


def rollout(step: int, group: int, trace_id: str, prompt: str, completion: str) -> dict[str, Any]:
    """One line of rollouts.jsonl as GRPO training writes it (answer 1.0, format 0.2)."""
    expected = "42" if trace_id == TRACE_ADD else "4"
    scores = {
        "answer": 1.0 if completion.endswith(f"Answer: {expected}<end_of_turn>") else 0.0,
        "format": 1.0 if completion.endswith("<end_of_turn>") else 0.0,
    }
    return {
        "step": step,
        "group": group,
        "trace_id": trace_id,
        "prompt": prompt,
        "completion": completion,
        "expected": expected,
        "rewards": scores,
        "reward": 1.0 * scores["answer"] + 0.2 * scores["format"],
    }


def sample(step: int, groups: int = 2) -> list[dict[str, Any]]:
    """Group 0: a right and a wrong completion; group 1: two that score the same."""
    lines = [
        rollout(step, 0, TRACE_ADD, PROMPT_ADD, RIGHT),
        rollout(step, 0, TRACE_ADD, PROMPT_ADD, WRONG),
    ]
    if groups > 1:
        same = "Reasoning: 7 - 3 = 5\nAnswer: 5<end_of_turn>"
        lines += [rollout(step, 1, TRACE_SUB, PROMPT_SUB, same)] * 2
    return lines


def write_rollouts(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")


@dataclass
class Recorded:
    base_url: str
    database_url: str
    runs_dir: Path
    sft: uuid.UUID
    grpo: uuid.UUID

    def rollouts_file(self, run_id: uuid.UUID) -> Path:
        return self.runs_dir / str(run_id) / "model" / "rollouts.jsonl"


async def record(database_url: str, runs_dir: Path) -> tuple[uuid.UUID, uuid.UUID]:
    """A succeeded SFT run and a succeeded GRPO run started from it, 12 steps, rollouts stored
    at steps 1, 10 and 11."""
    engine = create_engine(database_url)
    try:
        sft_manifest = RunManifest.model_validate(
            {
                "model": {"model_id": "tunix-rt/tiny"},
                "dataset": {"key": "arith-v1"},
                "output": {"output_dir": "model"},
            }
        ).model_dump(mode="json")
        sft = await store.create_run(engine, dataset_key="arith-v1", manifest=sft_manifest)
        await store.add_metrics(
            engine,
            sft,
            [
                MetricPoint(
                    step=1,
                    loss=2.0,
                    learning_rate=0.003,
                    tokens_per_second=900.0,
                    eval_loss=None,
                    elapsed_seconds=1.0,
                )
            ],
        )
        await jobs.finish(engine, "run", sft, "succeeded", result={"max_steps": 1})
        grpo = await store.create_run(
            engine, dataset_key="arith-v1", manifest=grpo_manifest(sft, beta=0.04, every=10)
        )
        async with engine.begin() as conn:
            started = datetime.now(UTC) - timedelta(seconds=95)
            await conn.execute(
                update(runs_table).where(runs_table.c.id == grpo).values(started_at=started)
            )
        await store.add_metrics(engine, grpo, [grpo_point(step) for step in range(1, STEPS + 1)])
        result = {
            "max_steps": STEPS,
            "steps": STEPS,
            "train_examples": 16,
            "eval_examples": 0,
            "parameters": 123456,
        }
        await jobs.finish(engine, "run", grpo, "succeeded", result=result)
    finally:
        await engine.dispose()
    path = runs_dir / str(grpo) / "model" / "rollouts.jsonl"
    write_rollouts(path, sample(1, groups=1) + sample(10) + sample(11))
    return sft, grpo


@pytest.fixture(scope="module", params=BACKENDS)
def recorded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recorded]:
    """The server on SQLite, and on PostgreSQL when TUNIX_RT_TEST_POSTGRES_URL names one."""
    folder = tmp_path_factory.mktemp(f"web-grpo-{request.param}")
    database_url = module_database(request.param, folder)
    with running_server(
        database_url,
        TUNIX_RT_RUN_EXECUTOR="false",
        TUNIX_RT_RUNS_DIR=str(folder / "runs"),
        TUNIX_RT_DATA_DIR=str(folder / "data"),
    ) as base_url:
        sft, grpo = run_async(record(database_url, folder / "runs"))
        yield Recorded(base_url, database_url, folder / "runs", sft, grpo)


@pytest.fixture(scope="module")
def server(recorded: Recorded) -> str:
    return recorded.base_url


def texts(page: Page, testid: str) -> list[str]:
    return page.get_by_test_id(testid).all_inner_texts()


def test_a_grpo_run_page_shows_its_rewards_charts_and_latest_rollouts(
    page: Page, recorded: Recorded
) -> None:
    page.goto(f"/runs/{recorded.grpo}")
    expect(page.get_by_test_id("run:status")).to_have_text("succeeded")
    expect(page.get_by_test_id("run:mode")).to_have_text("grpo")
    expect(page.get_by_test_id("run:model")).to_have_text("tunix-rt/tiny")
    expect(page.get_by_test_id("run:init-from")).to_have_text(f"run {str(recorded.sft)[:8]}")
    expect(page.get_by_test_id("run:init-from")).to_have_attribute("href", f"/runs/{recorded.sft}")
    expect(page.get_by_test_id("run:step")).to_have_text("12 of 12")
    expect(page.get_by_test_id("run:loss")).to_have_text("0.2400")
    expect(page.get_by_test_id("run:reward")).to_have_text("0.600 ± 0.250")
    expect(page.get_by_test_id("run:reward-answer")).to_have_text("0.480 ± 0.500")
    expect(page.get_by_test_id("run:reward-format")).to_have_text("0.600 ± 0.400")
    latest = page.get_by_test_id("run:latest")
    assert latest.locator("dt.sub").all_inner_texts() == ["answer weight 1.0", "format weight 0.2"]
    expect(page.get_by_test_id("run:groups-with-spread")).to_have_text("75.0 %")
    expect(page.get_by_test_id("run:kl")).to_have_text("0.012")
    expect(page.get_by_test_id("run:completion-tokens")).to_have_text("32.0")
    expect(page.get_by_test_id("run:clip-fraction")).to_have_text("5.0 %")
    expect(page.get_by_test_id("run:eval-loss")).to_have_count(0)

    for testid, series, last in (
        ("run:reward-chart", "mean reward", "mean reward: 0.6 at 12"),
        ("run:spread-chart", "groups with spread", "groups with spread: 75 at 12"),
        ("run:kl-chart", "KL", "KL: 0.012 at 12"),
        ("run:loss-chart", "train loss", "train loss: 0.24 at 12"),
    ):
        chart = page.get_by_test_id(testid)
        expect(chart.locator(f'polyline[data-series="{series}"]')).to_have_attribute(
            "data-points", str(STEPS)
        )
        expect(chart.locator("circle title").last).to_have_text(last)
    expect(page.get_by_test_id("run:spread-chart")).to_have_attribute(
        "aria-label", "Share of groups whose rewards differ, by step"
    )

    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 11")
    expect(page.get_by_test_id("run:rollouts-count")).to_have_text(
        "4 rollouts in 2 groups; 3 steps stored samples."
    )
    groups = page.get_by_test_id("run:rollout-group")
    expect(groups).to_have_count(2)
    first, second = groups.nth(0), groups.nth(1)
    expect(first.locator("h3")).to_have_text(f"Group 0 · trace {TRACE_ADD[:8]} · mean reward 0.600")
    expect(first.get_by_role("link")).to_have_attribute("href", f"/traces/{TRACE_ADD}")
    assert first.get_by_test_id("run:rollout-prompt").inner_text() == PROMPT_ADD
    expect(first.get_by_test_id("run:rollout-expected")).to_have_text("42")
    assert first.get_by_test_id("run:rollout-completion").all_inner_texts() == [RIGHT, WRONG]
    expect(first.locator("pre b")).to_have_count(0)  # the completion's markup is text
    assert first.get_by_test_id("run:rollout-total").all_inner_texts() == [
        "reward 1.200",
        "reward 0.000",
    ]
    assert first.get_by_test_id("run:rollout-delta").all_inner_texts() == [
        "above the group's mean by 0.600",
        "below the group's mean by 0.600",
    ]
    scores = first.get_by_test_id("run:rollout-scores")
    assert [s.split() for s in scores.all_inner_texts()] == [
        ["answer", "1.00", "format", "1.00"],
        ["answer", "0.00", "format", "0.00"],
    ]
    expect(first.get_by_test_id("run:rollout-no-spread")).to_have_count(0)
    expect(second.get_by_test_id("run:rollout-no-spread")).to_have_text("same reward: no gradient")
    assert second.get_by_test_id("run:rollout-delta").all_inner_texts() == [
        "at the group's mean",
        "at the group's mean",
    ]
    expect(second.get_by_test_id("run:rollout-expected")).to_have_text("4")
    expect(page.get_by_test_id("run:rollouts-previous")).to_have_text("← Step 10")
    expect(page.get_by_test_id("run:rollouts-next")).to_have_count(0)
    expect(page.get_by_test_id("run:rollouts-latest")).to_have_count(0)
    assert page.get_by_test_id("run:rollouts-select").locator("option").all_inner_texts() == [
        "11",
        "10",
        "1",
    ]
    expect(page.get_by_test_id("run:rollouts-select")).to_have_value("11")
    check_page(page, "run-grpo")
    check_page(page, "run-grpo-charts", at='[data-testid="run:grpo-charts"]')
    check_page(page, "run-grpo-rollouts", at="#rollouts")


def test_the_rollout_steps_are_chosen_by_links_and_the_form(page: Page, recorded: Recorded) -> None:
    run = recorded.grpo
    page.goto(f"/runs/{run}")
    page.get_by_test_id("run:rollouts-previous").click()
    expect(page).to_have_url(f"/runs/{run}?step=10#rollouts")
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 10")
    expect(page.get_by_test_id("run:rollouts-select")).to_have_value("10")
    expect(page.get_by_test_id("run:rollouts-previous")).to_have_text("← Step 1")
    expect(page.get_by_test_id("run:rollouts-next")).to_have_text("Step 11 →")

    # From the keyboard: the step picked in the list, then the button pressed with Enter.
    page.get_by_test_id("run:rollouts-select").focus()
    page.get_by_test_id("run:rollouts-select").select_option("1")
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("run:rollouts-show")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"/runs/{run}?step=1#rollouts")
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 1")
    expect(page.get_by_test_id("run:rollouts-count")).to_have_text(
        "2 rollouts in 1 group; 3 steps stored samples."
    )
    expect(page.get_by_test_id("run:rollouts-previous")).to_have_count(0)
    page.get_by_test_id("run:rollouts-latest").click()
    expect(page).to_have_url(f"/runs/{run}#rollouts")
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 11")

    # 640 px wide: nothing runs off the side of the page.
    page.set_viewport_size({"width": 640, "height": 900})
    page.goto(f"/runs/{run}?step=10")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width == 640


def test_a_missing_rollout_step_is_the_404_page_and_an_sft_run_has_no_rollouts(
    page: Page, recorded: Recorded
) -> None:
    run = recorded.grpo
    response = page.goto(f"/runs/{run}?step=7")
    assert response is not None and response.status == 404
    expect(page).to_have_title("Not found · tunix-rt")
    expect(page.get_by_test_id("sys:error")).to_have_text(
        f"run {run} stored no rollouts at step 7 (steps: 1, 10, 11)"
    )
    response = page.goto(f"/runs/{run}?step=0")
    assert response is not None and response.status == 422
    expect(page.get_by_test_id("sys:error")).to_have_text(
        "step: Input should be greater than or equal to 1"
    )

    page.goto(f"/runs/{recorded.sft}")
    expect(page.get_by_test_id("run:mode")).to_have_text("sft")
    expect(page.get_by_test_id("run:model")).to_have_text("tunix-rt/tiny (tiny)")
    expect(page.get_by_test_id("run:eval-loss")).to_have_text("\u2013")
    for absent in ("run:rollouts", "run:grpo-charts", "run:reward", "run:init-from"):
        expect(page.get_by_test_id(absent)).to_have_count(0)
    answer = httpx.get(f"{recorded.base_url}/runs/{recorded.sft}?step=1")
    assert answer.status_code == 404
    assert f"run {recorded.sft} stored no rollouts at step 1 (steps: none)" in answer.text


async def _training(database_url: str, init_from_run: uuid.UUID) -> uuid.UUID:
    engine = create_engine(database_url)
    try:
        run_id = await store.create_run(
            engine,
            dataset_key="arith-v1",
            manifest=grpo_manifest(init_from_run, beta=0.0, every=1),
            status="running",
        )
        await store.add_metrics(engine, run_id, [grpo_point(1, kl=False)])
        return run_id
    finally:
        await engine.dispose()


async def _step(database_url: str, run_id: uuid.UUID, step: int) -> None:
    engine = create_engine(database_url)
    try:
        await store.add_metrics(engine, run_id, [grpo_point(step, kl=False)])
    finally:
        await engine.dispose()


def test_a_training_grpo_run_shows_new_rollouts_as_they_come(
    page: Page, recorded: Recorded
) -> None:
    run = run_async(_training(recorded.database_url, recorded.sft))
    page.goto(f"/runs/{run}")
    expect(page.get_by_test_id("run:status")).to_have_text("running")
    expect(page.get_by_test_id("run:no-rollouts")).to_have_text(
        "No rollouts yet: the run stores a sample at every step."
    )
    expect(page.get_by_test_id("run:kl-chart")).to_have_count(0)  # beta 0: no KL recorded
    expect(page.get_by_test_id("run:kl")).to_have_count(0)
    expect(page.get_by_test_id("run:reward-chart").locator("polyline")).to_have_attribute(
        "data-points", "1"
    )

    path = recorded.rollouts_file(run)
    write_rollouts(path, sample(1, groups=1))
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 1")
    write_rollouts(path, sample(2))
    run_async(_step(recorded.database_url, run, 2))
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 2")
    expect(page.get_by_test_id("run:step")).to_have_text("2")
    expect(page.get_by_test_id("run:reward-chart").locator("polyline")).to_have_attribute(
        "data-points", "2"
    )

    # A step picked but not yet shown stays picked, and focused, while the page refreshes.
    select = page.get_by_test_id("run:rollouts-select")
    select.focus()
    select.select_option("1")
    write_rollouts(path, sample(3))
    expect(select.locator("option")).to_have_count(3)
    expect(page.get_by_test_id("run:rollouts-step")).to_have_text("step 3")
    expect(select).to_have_value("1")
    expect(select).to_be_focused()
    check_page(page, "run-grpo-training")
