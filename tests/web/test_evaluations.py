"""The evaluations pages in a real browser: the leaderboard, a scorecard with its breakdown and
items (wrong answers first), a running evaluation's live progress, and two evaluations compared.

The evaluations are stored through the same store functions the evaluation worker uses (scored
completions, scorecards), in the SQLite file of the server the browser talks to; no model runs.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.browser import check_page
from helpers.server import running_server
from tunix_rt.db.engine import create_engine
from tunix_rt.evals import store
from tunix_rt.evals.job import item_row
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget, Scorecard
from tunix_rt.evals.scoring import ScoredItem, delta, score_completion, scorecard
from tunix_rt.evals.targets import EvalItem
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store

T = TypeVar("T")
ADD_SUB = "arithmetic-add-sub-v1"
ADD_SUB_SHA = "8afdfec83251ed3fde2df91993d6583b39a4ebcd1a98ca0c435af9811a0b2df8"
ARITHMETIC = "arithmetic-v1"
ARITHMETIC_SHA = "dd52225cb36eacdb2555d9d8b3053627bfc2846b979bc44cc0d00fe1124cac9f"
TINY = "tunix-rt/tiny"
GEMMA = "google/gemma-3-270m"
GROUP_KEYS = ["operation", "digits"]


def question(index: int) -> tuple[str, str, dict[str, Any]]:
    """Item `index`: operations alternate add/sub, digits 2/2/3/3 (four groups of equal size)."""
    operation = "add" if index % 2 == 0 else "sub"
    digits = 2 if index % 4 < 2 else 3
    a = (10 if digits == 2 else 100) + 7 * index % 80
    b = 3 + index % 9
    text = f"What is {a} {'+' if operation == 'add' else '-'} {b}?"
    expected = a + b if operation == "add" else a - b
    return text, str(expected), {"operation": operation, "digits": digits}


def completion(answer: str) -> str:
    return f"Reasoning:\n1. Work it out digit by digit.\nAnswer: {answer}"


def scored(
    evaluation_id: uuid.UUID,
    subject: str,
    indices: range,
    wrong: set[int],
    *,
    stopped: bool = True,
    tokens: int = 24,
) -> tuple[list[dict[str, Any]], list[ScoredItem]]:
    """The rows of `indices` as the worker stores them, wrong at `wrong` (answer off by one)."""
    rows, items = [], []
    for index in indices:
        text, expected, meta = question(index)
        answer = str(int(expected) + 1) if index in wrong else expected
        item = EvalItem(index, f"<prompt {index}>", text, expected, meta)
        sample = score_completion(
            completion(answer), expected=expected, stopped=stopped, output_tokens=tokens
        )
        one = ScoredItem(index, (sample,), (meta["operation"], meta["digits"]))
        rows.append(item_row(evaluation_id, subject, item, one))  # type: ignore[arg-type]
        items.append(one)
    return rows, items


@dataclass(frozen=True)
class Subject:
    wrong: set[int]
    stopped: bool = True
    tokens: int = 24
    generation_seconds: float = 2.0
    wall_seconds: float = 12.5


async def finished(
    engine: AsyncEngine,
    run_id: uuid.UUID,
    *,
    model_id: str,
    target: EvaluationTarget,
    trained: Subject,
    base: Subject | None,
) -> uuid.UUID:
    options = EvaluationOptions(evalset=target.name, base=base is not None)
    evaluation_id = await store.create_evaluation(
        engine,
        run_id=run_id,
        model_id=model_id,
        options=options,
        target=target,
        status="running",
        pid=os.getpid(),
    )
    cards: dict[str, Scorecard] = {}
    for subject, spec in (("trained", trained), ("base", base)):
        if spec is None:
            continue
        rows, items = scored(
            evaluation_id,
            subject,
            range(target.items),
            spec.wrong,
            stopped=spec.stopped,
            tokens=spec.tokens,
        )
        await store.add_items(engine, rows)
        cards[subject] = scorecard(
            items,
            group_keys=GROUP_KEYS,
            generation_seconds=spec.generation_seconds,
            wall_seconds=spec.wall_seconds,
        )
    base_card = cards.get("base")
    change = None if base_card is None else delta(cards["trained"], base_card)
    assert await store.succeed(engine, evaluation_id, cards["trained"], base_card, change)
    return evaluation_id


def add_sub(items: int = 200) -> EvaluationTarget:
    return EvaluationTarget(kind="evalset", name=ADD_SUB, sha256=ADD_SUB_SHA, items=items)


def arithmetic(items: int = 10) -> EvaluationTarget:
    return EvaluationTarget(kind="evalset", name=ARITHMETIC, sha256=ARITHMETIC_SHA, items=items)


async def running_on_dataset(
    engine: AsyncEngine, run_id: uuid.UUID, key: str, model_id: str, items: int
) -> uuid.UUID:
    """A running evaluation of a dataset: the later tests' own rows, which the eval set filters
    of the leaderboard leave out."""
    return await store.create_evaluation(
        engine,
        run_id=run_id,
        model_id=model_id,
        options=EvaluationOptions(dataset_key=key),
        target=EvaluationTarget(kind="dataset", name=key, sha256="cd" * 32, items=items),
        status="running",
        pid=os.getpid(),
    )


@dataclass(frozen=True)
class Seeded:
    url: str
    database_url: str
    run_id: uuid.UUID
    best: uuid.UUID  # add-sub, tiny: 98.5 % (base 50.0 %)
    gain: uuid.UUID  # add-sub, gemma: 90.0 % (base 20.0 %)
    small: uuid.UUID  # arithmetic-v1, 10 items, 60.0 %, no base
    running: uuid.UUID  # arithmetic-v1, 4 of 10 items scored


BEST_WRONG = {3, 7, 50}
GAIN_WRONG = set(range(0, 200, 10))


async def seed(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    run_id = await runs_store.create_run(
        engine,
        dataset_key="arith-v1",
        manifest={
            "model": {"model_id": TINY},
            "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
            "output": {"output_dir": "model"},
        },
        status="running",
        pid=os.getpid(),
    )
    await jobs.finish(engine, "run", run_id, "succeeded", result={"checkpoint_step": 900})
    best = await finished(
        engine,
        run_id,
        model_id=TINY,
        target=add_sub(),
        trained=Subject(BEST_WRONG),
        base=Subject(
            set(range(100, 200)),
            stopped=False,
            tokens=64,
            generation_seconds=4.0,
            wall_seconds=75.0,
        ),
    )
    gain = await finished(
        engine,
        run_id,
        model_id=GEMMA,
        target=add_sub(),
        trained=Subject(GAIN_WRONG),
        base=Subject({i for i in range(200) if i % 5 != 0}),
    )
    small = await finished(
        engine,
        run_id,
        model_id=TINY,
        target=arithmetic(),
        trained=Subject({1, 4, 8, 9}),
        base=None,
    )
    running = await store.create_evaluation(
        engine,
        run_id=run_id,
        model_id=TINY,
        options=EvaluationOptions(evalset=ARITHMETIC),
        target=arithmetic(),
        status="running",
        pid=os.getpid(),
    )
    rows, _ = scored(running, "trained", range(4), set())
    await store.add_items(engine, rows)
    return {"run_id": run_id, "best": best, "gain": gain, "small": small, "running": running}


def with_engine(database_url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """`work` with an engine on the server's database, in a thread of its own: Playwright's
    sync API keeps an event loop running in the test's thread."""

    async def run() -> T:
        engine = create_engine(database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A server on its own SQLite file (its migrations applied at start; no executor, so the
    running evaluations stay as seeded), with evaluations stored in that file."""
    database = Path(tmp_path_factory.mktemp("web-evaluations")) / "web.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    with running_server(database_url, TUNIX_RT_RUN_EXECUTOR="false") as base_url:
        ids = with_engine(database_url, seed)
        yield Seeded(base_url, database_url, **ids)


@pytest.fixture(scope="module")
def server(seeded: Seeded) -> str:
    return seeded.url


def row_ids(page: Page) -> list[str]:
    return [row.get_attribute("data-id") or "" for row in page.get_by_test_id("eval:row").all()]


def test_the_leaderboard_sorts_filters_and_links(page: Page, seeded: Seeded) -> None:
    page.goto("/evaluations")
    expect(page).to_have_title("Evaluations · tunix-rt")
    rows = page.get_by_test_id("eval:row")
    expect(rows).to_have_count(3)
    assert row_ids(page) == [str(seeded.best), str(seeded.gain), str(seeded.small)]
    expect(rows.get_by_test_id("eval:accuracy")).to_have_text(["98.5 %", "90.0 %", "60.0 %"])
    expect(rows.get_by_test_id("eval:interval")).to_have_text(
        ["95.7 % \u2013 99.5 %", "85.1 % \u2013 93.4 %", "31.3 % \u2013 83.2 %"]
    )
    expect(rows.get_by_test_id("eval:delta")).to_have_text(["+48.5 pt", "+70.0 pt", "\u2013"])
    expect(rows.get_by_test_id("eval:format")).to_have_text(["100.0 %", "100.0 %", "100.0 %"])
    expect(rows.get_by_test_id("eval:items")).to_have_text(["200", "200", "10"])
    expect(rows.get_by_test_id("eval:target")).to_have_text([ADD_SUB, ADD_SUB, ARITHMETIC])
    expect(rows.get_by_test_id("eval:model")).to_have_text([TINY, GEMMA, TINY])
    expect(rows.first.get_by_test_id("eval:id")).to_have_text(str(seeded.best)[:8])
    expect(rows.first.get_by_test_id("eval:run")).to_have_attribute(
        "href", f"/runs/{seeded.run_id}"
    )
    expect(rows.first.locator("[data-status]")).to_have_text("succeeded")
    check_page(page, "evaluations")

    page.get_by_test_id("eval:filter-sort").select_option("delta")
    page.get_by_test_id("eval:filter-submit").click()
    expect(page).to_have_url(re.compile(r"/evaluations\?.*sort=delta"))
    expect(rows).to_have_count(2)
    assert row_ids(page) == [str(seeded.gain), str(seeded.best)]
    expect(rows.get_by_test_id("eval:delta")).to_have_text(["+70.0 pt", "+48.5 pt"])

    page.get_by_test_id("eval:filter-sort").select_option("date")
    page.get_by_test_id("eval:filter-evalset").select_option(ARITHMETIC)
    page.get_by_test_id("eval:filter-submit").click()
    expect(rows).to_have_count(2)
    assert row_ids(page) == [str(seeded.running), str(seeded.small)]
    expect(rows.first.locator("[data-status]")).to_have_text("running")
    expect(rows.first.get_by_test_id("eval:accuracy")).to_have_text("\u2013")

    page.goto(f"/evaluations?evalset={ADD_SUB}")
    expect(page.get_by_test_id("eval:filter-evalset")).to_have_value(ADD_SUB)
    assert row_ids(page) == [str(seeded.best), str(seeded.gain)]
    page.get_by_test_id("eval:filter-model").select_option(GEMMA)
    page.get_by_test_id("eval:filter-submit").click()
    assert row_ids(page) == [str(seeded.gain)]
    page.goto("/evaluations?evalset=high-card-duel-v1")
    expect(page.get_by_test_id("eval:empty")).to_contain_text("No evaluations match.")


def test_the_leaderboard_pages_with_its_cursor(page: Page, seeded: Seeded) -> None:
    from tunix_rt.web.pages import evaluations

    assert evaluations.LEADERBOARD_LIMIT == 20
    extra = with_engine(
        seeded.database_url,
        lambda engine: _many(engine, seeded.run_id, evaluations.LEADERBOARD_LIMIT),
    )
    page.goto("/evaluations?sort=date&model_id=tunix-rt/paging")
    rows = page.get_by_test_id("eval:row")
    expect(rows).to_have_count(20)
    assert row_ids(page) == [str(i) for i in reversed(extra[1:])]
    page.get_by_test_id("pager:next").click()
    expect(page).to_have_url(re.compile(r"model_id=tunix-rt%2Fpaging.*cursor=|cursor=.*model_id"))
    assert row_ids(page) == [str(extra[0])]
    expect(page.get_by_test_id("pager:next")).to_have_count(0)


async def _many(engine: AsyncEngine, run_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    return [
        await running_on_dataset(engine, run_id, "paging-v1", "tunix-rt/paging", 10)
        for _ in range(count + 1)
    ]


def test_the_scorecard_breakdown_and_items_wrong_answers_first(page: Page, seeded: Seeded) -> None:
    page.goto(f"/evaluations/{seeded.best}")
    expect(page).to_have_title(f"Evaluation {str(seeded.best)[:8]} · tunix-rt")
    expect(page.locator("#evaluation")).to_have_attribute("data-final", "")
    expect(page.get_by_test_id("eval:progress")).to_have_count(0)
    expect(page.get_by_test_id("eval:accuracy")).to_have_text("98.5 %")
    expect(page.get_by_test_id("eval:accuracy-gain")).to_have_text("+48.5 pt over the base")
    expect(page.get_by_test_id("eval:trained-accuracy")).to_have_text("98.5 %")
    expect(page.get_by_test_id("eval:trained-interval")).to_have_text("95.7 % \u2013 99.5 %")
    expect(page.get_by_test_id("eval:base-accuracy")).to_have_text("50.0 %")
    expect(page.get_by_test_id("eval:base-interval")).to_have_text("43.1 % \u2013 56.9 %")
    expect(page.get_by_test_id("eval:delta-accuracy")).to_have_text("+48.5 pt")
    expect(page.get_by_test_id("eval:trained-format")).to_have_text("100.0 %")
    expect(page.get_by_test_id("eval:base-format")).to_have_text("0.0 %")
    expect(page.get_by_test_id("eval:delta-format")).to_have_text("+100.0 pt")
    expect(page.get_by_test_id("eval:trained-tokens")).to_have_text("24.0")
    expect(page.get_by_test_id("eval:base-tokens")).to_have_text("64.0")
    expect(page.get_by_test_id("eval:delta-tokens")).to_have_text("-40.0")
    expect(page.get_by_test_id("eval:trained-speed")).to_have_text("2,400")
    expect(page.get_by_test_id("eval:base-speed")).to_have_text("3,200")
    expect(page.get_by_test_id("eval:trained-wall")).to_have_text("12.5 s")
    expect(page.get_by_test_id("eval:base-wall")).to_have_text("1 min 15 s")
    expect(page.get_by_test_id("eval:trained-items")).to_have_text("200")
    expect(page.get_by_test_id("eval:run")).to_have_attribute("href", f"/runs/{seeded.run_id}")

    groups = page.get_by_test_id("eval:group")
    expect(groups.get_by_test_id("eval:group-label")).to_have_text(
        ["add · 2", "add · 3", "sub · 2", "sub · 3"]
    )
    expect(groups.get_by_test_id("eval:group-accuracy")).to_have_text(
        ["100.0 %", "98.0 %", "100.0 %", "96.0 %"]
    )
    # The base is right on the first 100 items: half of each group.
    expect(groups.get_by_test_id("eval:group-delta")).to_have_text(
        ["+50.0 pt", "+48.0 pt", "+50.0 pt", "+46.0 pt"]
    )
    bars = page.get_by_test_id("eval:breakdown-chart").locator("rect.bar")
    assert [(b.get_attribute("data-label"), b.get_attribute("data-value")) for b in bars.all()] == [
        ("add · 2", "1"),
        ("add · 3", "0.98"),
        ("sub · 2", "1"),
        ("sub · 3", "0.96"),
    ]

    items = page.get_by_test_id("eval:item")
    expect(items).to_have_count(50)
    indices = [item.get_attribute("data-index") for item in items.all()]
    assert indices[:5] == ["3", "7", "50", "0", "1"]
    expect(items.nth(0).get_by_test_id("eval:item-outcome")).to_have_text("wrong")
    expect(items.nth(3).get_by_test_id("eval:item-outcome")).to_have_text("correct")
    text, expected, _ = question(3)
    first = items.nth(0)
    expect(first.get_by_test_id("eval:item-prompt")).to_have_text(text)
    expect(first.get_by_test_id("eval:item-answer")).to_have_text(str(int(expected) + 1))
    expect(first.get_by_test_id("eval:item-expected")).to_have_text(expected)
    expect(first.get_by_test_id("eval:item-completion")).to_have_text(
        completion(str(int(expected) + 1))
    )
    check_page(page, "evaluation")

    # Keyset pages: 50 at a time, the three wrong ones first, then the rest by index.
    seen = list(indices)
    for _ in range(3):
        page.get_by_test_id("pager:next").click()
        seen += [item.get_attribute("data-index") for item in items.all()]
    expect(page.get_by_test_id("pager:next")).to_have_count(0)
    assert seen == [str(i) for i in (3, 7, 50, *(i for i in range(200) if i not in BEST_WRONG))]

    # The base model's wrong answers only, by index.
    page.goto(f"/evaluations/{seeded.best}")
    page.get_by_test_id("eval:items-subject").select_option("base")
    page.get_by_test_id("eval:items-correct").select_option("false")
    page.get_by_test_id("eval:items-order").select_option("index")
    page.get_by_test_id("eval:items-submit").click()
    expect(items.first).to_have_attribute("data-index", "100")
    expect(items.get_by_test_id("eval:item-outcome")).to_have_text(["wrong"] * 50)


def test_a_running_evaluation_shows_its_progress_until_it_ends(page: Page, seeded: Seeded) -> None:
    evaluation_id = with_engine(seeded.database_url, lambda e: _running(e, seeded.run_id))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"/evaluations/{evaluation_id}")
    region = page.locator("#evaluation")
    expect(region).to_have_attribute("data-refresh", "2000")
    expect(region).not_to_have_attribute("data-final", "")
    expect(page.get_by_test_id("eval:progress-text")).to_have_text("2 of 4 items")
    expect(page.locator("[data-status]").first).to_have_text("running")
    expect(page.get_by_test_id("eval:item")).to_have_count(2)

    rows, _ = scored(evaluation_id, "trained", range(2, 4), {3})
    with_engine(seeded.database_url, lambda e: store.add_items(e, rows))
    expect(page.get_by_test_id("eval:progress-text")).to_have_text("4 of 4 items", timeout=8000)
    expect(page.get_by_test_id("eval:item").first).to_have_attribute("data-index", "3")

    page.get_by_test_id("eval:cancel").click()
    expect(page).to_have_url(f"/evaluations/{evaluation_id}")
    expect(page.get_by_text("cancel requested")).to_be_visible()
    with_engine(
        seeded.database_url,
        lambda e: jobs.finish(e, "evaluation", evaluation_id, "cancelled", error="cancelled"),
    )
    expect(page.locator("[data-status]").first).to_have_text("cancelled", timeout=8000)
    expect(region).to_have_attribute("data-final", "")
    expect(page.get_by_test_id("eval:progress")).to_have_count(0)
    expect(page.get_by_test_id("eval:error")).to_have_text("cancelled")


async def _running(engine: AsyncEngine, run_id: uuid.UUID) -> uuid.UUID:
    evaluation_id = await running_on_dataset(engine, run_id, "live-v1", "tunix-rt/live", 4)
    rows, _ = scored(evaluation_id, "trained", range(2), set())
    await store.add_items(engine, rows)
    return evaluation_id


def test_a_seeded_running_evaluation_shows_items_done_of_total(page: Page, seeded: Seeded) -> None:
    page.goto(f"/evaluations/{seeded.running}")
    expect(page.get_by_test_id("eval:progress-text")).to_have_text("4 of 10 items")
    expect(page.get_by_test_id("eval:scorecard")).to_have_count(0)
    expect(page.get_by_test_id("eval:accuracy")).to_have_text("\u2013")


def test_compare_lists_the_disagreements_first(page: Page, seeded: Seeded) -> None:
    page.goto("/evaluations")
    page.get_by_test_id("eval:compare-a").select_option(str(seeded.best))
    page.get_by_test_id("eval:compare-b").select_option(str(seeded.gain))
    page.get_by_test_id("eval:compare-submit").click()
    expect(page).to_have_url(f"/evaluations/compare?a={seeded.best}&b={seeded.gain}")
    expect(page).to_have_title("Compare evaluations · tunix-rt")
    expect(page.get_by_test_id("eval:compare-a-accuracy")).to_have_text("98.5 %")
    expect(page.get_by_test_id("eval:compare-b-accuracy")).to_have_text("90.0 %")
    expect(page.get_by_test_id("eval:compare-counts")).to_have_text(
        f"On {ADD_SUB}: right in A only 19, in B only 2, in both 178, in neither 1."
    )
    items = page.get_by_test_id("eval:compare-item")
    expect(items).to_have_count(50)
    # 21 disagreements by index (A wrong at 3 and 7; B wrong at every tenth but 50), then the rest.
    disagreements = sorted({3, 7} | (GAIN_WRONG - {50}))
    outcomes = [
        (i.get_attribute("data-index"), i.get_attribute("data-outcome")) for i in items.all()
    ]
    assert outcomes[:21] == [
        (str(i), "b_only" if i in BEST_WRONG else "a_only") for i in disagreements
    ]
    assert outcomes[21:24] == [("1", "both"), ("2", "both"), ("4", "both")]
    text, expected, _ = question(3)
    three = items.nth(1)
    expect(three.get_by_test_id("eval:compare-prompt")).to_have_text(text)
    expect(three.get_by_test_id("eval:compare-a-answer")).to_have_text(f"{int(expected) + 1} wrong")
    expect(three.get_by_test_id("eval:compare-b-answer")).to_have_text(f"{expected} correct")
    check_page(page, "evaluations-compare")
    agreements = [i for i in range(200) if i not in disagreements]
    page.get_by_test_id("pager:next").click()
    expect(items.first).to_have_attribute("data-index", str(agreements[29]))


def test_unknown_and_malformed_ids_are_the_404_page(page: Page, seeded: Seeded) -> None:
    unknown = uuid.uuid4()
    for path, message in (
        (f"/evaluations/{unknown}", f"evaluation {unknown} not found"),
        ("/evaluations/not-an-id", "no such page: the id or key in the address is malformed"),
        (f"/evaluations/compare?a={seeded.best}&b={unknown}", f"evaluation {unknown} not found"),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_test_id("sys:error")).to_have_text(message)


def test_comparing_different_eval_sets_is_refused(seeded: Seeded) -> None:
    refused = httpx.get(
        f"{seeded.url}/evaluations/compare", params={"a": str(seeded.best), "b": str(seeded.small)}
    )
    assert refused.status_code == 422
    assert f"evaluations {seeded.best} and {seeded.small} are of different targets" in refused.text


def test_the_outputs_become_traces_from_the_page(page: Page, seeded: Seeded) -> None:
    page.goto(f"/evaluations/{seeded.small}")
    expect(page.get_by_test_id("eval:traces-stored")).to_have_text("not stored")
    page.get_by_test_id("eval:store-traces").click()
    expect(page).to_have_url(f"/evaluations/{seeded.small}")
    expect(page.get_by_test_id("eval:traces-stored")).to_have_text(
        "10 traces stored (meta.source: model)"
    )
    expect(page.get_by_test_id("eval:store-traces")).to_have_count(0)
    traces = httpx.get(f"{seeded.url}/api/traces", params={"source": "model", "limit": 100})
    assert len(traces.json()["data"]) == 10


def test_posts_without_the_csrf_token_are_refused(seeded: Seeded) -> None:
    with httpx.Client(base_url=seeded.url) as client:
        client.get("/evaluations")
        for action in ("cancel", "traces"):
            refused = client.post(f"/evaluations/{seeded.running}/{action}", data={})
            assert refused.status_code == 403, action
            assert "security token" in refused.text


def test_a_cursor_the_pages_did_not_give_is_refused(seeded: Seeded) -> None:
    for path, message in (
        ("/evaluations?cursor=bm9wZQ", "cursor is not one that an evaluation list returned"),
        (
            f"/evaluations/{seeded.best}?cursor=bm9wZQ",
            "cursor is not one that an item list returned",
        ),
        (
            f"/evaluations/compare?a={seeded.best}&b={seeded.gain}&cursor=bm9wZQ",
            "cursor is not one that a comparison returned",
        ),
    ):
        refused = httpx.get(f"{seeded.url}{path}")
        assert refused.status_code == 422, path
        assert message in refused.text, path
