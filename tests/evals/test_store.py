"""Evaluations in the database (SQLite and PostgreSQL): the shared job queue, items, the
leaderboard, comparisons, and a model's outputs stored as traces. No generation here: the items
are scored completions written the way the evaluation worker writes them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters
from tunix_rt.errors import ConflictError, InvalidInputError, NotFoundError
from tunix_rt.evals import service, store
from tunix_rt.evals.job import item_row
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget
from tunix_rt.evals.scoring import ScoredItem, delta, score_completion, scorecard
from tunix_rt.evals.targets import EvalItem
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.executor import RunExecutor
from tunix_rt.settings import Settings

MANIFEST = {
    "model": {"model_id": "tunix-rt/tiny"},
    "dataset": {"key": "d-1", "path": "datasets/d-1/tunix_sft.jsonl"},
    "output": {"output_dir": "model"},
}
TARGET = EvaluationTarget(kind="evalset", name="arithmetic-add-sub-v1", sha256="ab" * 32, items=4)
OPTIONS = EvaluationOptions(evalset="arithmetic-add-sub-v1", base=True)


def completion(answer: str) -> str:
    return f"Reasoning:\n1. Add the ones.\n2. Add the tens.\nAnswer: {answer}"


QUESTIONS = [
    ("What is 12 + 30?", "42", "add"),
    ("What is 50 - 8?", "42", "sub"),
    ("What is 10 + 10?", "20", "add"),
    ("What is 9 - 10?", "-1", "sub"),
]


def scored_rows(
    evaluation_id: uuid.UUID, subject: str, answers: list[str]
) -> tuple[list[dict[str, Any]], list[ScoredItem]]:
    rows, items = [], []
    for index, ((question, expected, operation), answer) in enumerate(
        zip(QUESTIONS, answers, strict=True)
    ):
        item = EvalItem(index, f"<prompt {index}>", question, expected, {"operation": operation})
        sample = score_completion(
            completion(answer), expected=expected, stopped=True, output_tokens=12
        )
        scored = ScoredItem(index, (sample,), (operation,))
        rows.append(item_row(evaluation_id, subject, item, scored))  # type: ignore[arg-type]
        items.append(scored)
    return rows, items


async def finished_evaluation(
    engine: AsyncEngine, run_id: uuid.UUID, trained: list[str], base: list[str] | None
) -> uuid.UUID:
    evaluation_id = await store.create_evaluation(
        engine, run_id=run_id, model_id="tunix-rt/tiny", options=OPTIONS, target=TARGET
    )
    rows, items = scored_rows(evaluation_id, "trained", trained)
    cards = {
        "trained": scorecard(items, group_keys=["operation"], generation_seconds=1, wall_seconds=2)
    }
    if base is not None:
        base_rows, base_items = scored_rows(evaluation_id, "base", base)
        rows += base_rows
        cards["base"] = scorecard(
            base_items, group_keys=["operation"], generation_seconds=1, wall_seconds=2
        )
    await store.add_items(engine, rows)
    base_card = cards.get("base")
    await store.succeed(
        engine,
        evaluation_id,
        cards["trained"],
        base_card,
        None if base_card is None else delta(cards["trained"], base_card),
    )
    return evaluation_id


async def succeeded_run(engine: AsyncEngine, checkpoint: bool = True) -> uuid.UUID:
    run_id = await runs_store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    await jobs.finish(
        engine, "run", run_id, "succeeded", result={"checkpoint_step": 10 if checkpoint else None}
    )
    return run_id


async def test_runs_and_evaluations_share_one_queue_and_cap(
    engine: AsyncEngine, database_url: str, tmp_path: Path
) -> None:
    run_id = await succeeded_run(engine)
    evaluation = await store.create_evaluation(
        engine, run_id=run_id, model_id="m", options=OPTIONS, target=TARGET
    )
    queued_run = await runs_store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    # Oldest first across both kinds; the cap counts both.
    first = await jobs.claim_next(engine, 1)
    assert first == jobs.Job("evaluation", evaluation, run_id)
    assert await jobs.claim_next(engine, 1) is None
    second = await jobs.claim_next(engine, 2)
    assert second == jobs.Job("run", queued_run, queued_run)
    assert [r.job for r in await jobs.running_here(engine)] == [second, first]

    # Cancel a running evaluation: asked, not done; a finished one: 409; unknown: 404.
    assert await service.cancel(engine, evaluation) == "cancelling"
    assert await jobs.cancel_requested(engine, "evaluation", evaluation)
    assert await jobs.finish(engine, "evaluation", evaluation, "cancelled", error="cancelled")
    with pytest.raises(ConflictError, match=f"evaluation {evaluation} already cancelled"):
        await service.cancel(engine, evaluation)
    with pytest.raises(NotFoundError, match=r"evaluation .* not found"):
        await service.cancel(engine, uuid.uuid4())
    queued = await store.create_evaluation(
        engine, run_id=run_id, model_id="m", options=OPTIONS, target=TARGET
    )
    assert await service.cancel(engine, queued) == "cancelled"
    async with engine.connect() as conn:
        record = await store.get_evaluation(conn, queued)
    assert (record.status, record.error, record.trained) == (
        "cancelled",
        "cancelled before it started",
        None,
    )

    # Recovery fails a running evaluation whose worker is gone.
    gone, alive = [
        await store.create_evaluation(
            engine,
            run_id=run_id,
            model_id="m",
            options=OPTIONS,
            target=TARGET,
            status="running",
            pid=pid,
        )
        for pid in (2**22 + 4321, os.getpid())
    ]
    await RunExecutor(engine, Settings(database_url=database_url, runs_dir=tmp_path)).recover()
    async with engine.connect() as conn:
        assert (await store.get_evaluation(conn, gone)).status == "failed"
        assert (await store.get_evaluation(conn, alive)).status == "running"


async def test_scorecards_items_and_latest(engine: AsyncEngine) -> None:
    run_id = await succeeded_run(engine)
    evaluation_id = await finished_evaluation(
        engine, run_id, trained=["42", "42", "20", "1"], base=["0", "42", "0", "0"]
    )
    async with engine.connect() as conn:
        record = await service.latest(conn, run_id)
        assert record.id == evaluation_id and record.status == "succeeded"
        assert record.items_done == 4
        assert record.trained is not None and record.base is not None and record.delta is not None
        assert (record.trained.accuracy, record.base.accuracy) == (0.75, 0.25)
        assert record.delta.accuracy == 0.5
        assert [(g.values, g.accuracy) for g in record.delta.groups] == [
            (["add"], 1.0),
            (["sub"], 0.0),
        ]

        page = await store.list_items(conn, evaluation_id, limit=3)
        assert [i.index for i in page.data] == [0, 1, 2]
        rest = await store.list_items(conn, evaluation_id, limit=3, cursor=page.next_cursor)
        assert [i.index for i in rest.data] == [3] and rest.next_cursor is None
        wrong = await store.list_items(conn, evaluation_id, correct=False)
        assert [(i.index, i.answer, i.expected) for i in wrong.data] == [(3, "1", "-1")]
        base_right = await store.list_items(conn, evaluation_id, subject="base", correct=True)
        assert [i.index for i in base_right.data] == [1]
        assert (await store.list_items(conn, evaluation_id, format_ok=False)).data == []
        first = page.data[0]
        assert (first.prompt, first.completion, first.samples) == (
            "What is 12 + 30?",
            completion("42"),
            None,
        )
        with pytest.raises(InvalidInputError, match="cursor"):
            await store.list_items(conn, evaluation_id, cursor="bm9wZQ")
        other = await succeeded_run(engine)
        with pytest.raises(NotFoundError, match=f"run {other} has no evaluation"):
            await service.latest(conn, other)
        with pytest.raises(NotFoundError, match="not found"):
            await service.latest(conn, uuid.uuid4())


async def test_leaderboard_sorts_filters_and_pages(engine: AsyncEngine) -> None:
    run_id = await succeeded_run(engine)
    low = await finished_evaluation(engine, run_id, ["0", "0", "0", "1"], base=["0", "0", "0", "0"])
    high = await finished_evaluation(engine, run_id, ["42", "42", "20", "-1"], base=None)
    mid = await finished_evaluation(
        engine, run_id, ["42", "42", "0", "0"], base=["42", "0", "0", "0"]
    )
    queued = await store.create_evaluation(
        engine, run_id=run_id, model_id="other", options=OPTIONS, target=TARGET
    )
    async with engine.connect() as conn:
        by_accuracy = await store.leaderboard(conn)
        assert [e.id for e in by_accuracy.data] == [high, mid, low]
        assert [e.accuracy for e in by_accuracy.data] == [1.0, 0.5, 0.0]
        by_delta = await store.leaderboard(conn, sort="delta")
        assert [(e.id, e.delta_accuracy) for e in by_delta.data] == [(mid, 0.25), (low, 0.0)]
        by_date = await store.leaderboard(conn, sort="date")
        assert [e.id for e in by_date.data] == [queued, mid, high, low]
        # Keyset pages under every sort give the same rows as one page.
        for sort, expected in (("accuracy", [high, mid, low]), ("date", [queued, mid, high, low])):
            seen, cursor = [], None
            while True:
                page = await store.leaderboard(conn, sort=sort, limit=1, cursor=cursor)  # type: ignore[arg-type]
                seen += [e.id for e in page.data]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            assert seen == expected
        only_other = await store.leaderboard(conn, sort="date", model_id="other")
        assert [e.id for e in only_other.data] == [queued]
        assert (await store.leaderboard(conn, evalset="arithmetic-v1")).data == []
        assert (await store.leaderboard(conn, status="queued", sort="date")).data[0].id == queued
        row = by_accuracy.data[0]
        assert (row.target, row.items, row.model_id) == (
            "arithmetic-add-sub-v1",
            4,
            "tunix-rt/tiny",
        )
        with pytest.raises(InvalidInputError, match="cursor"):
            await store.leaderboard(conn, cursor="WzEsMl0")


async def test_compare_item_by_item(engine: AsyncEngine) -> None:
    run_id = await succeeded_run(engine)
    a = await finished_evaluation(engine, run_id, ["42", "0", "20", "0"], base=None)
    b = await finished_evaluation(engine, run_id, ["42", "42", "0", "0"], base=None)
    async with engine.connect() as conn:
        compared = await store.compare(conn, a, b)
        assert compared.counts == {"a_only": 1, "b_only": 1, "both": 1, "neither": 1}
        assert (compared.a_accuracy, compared.b_accuracy) == (0.5, 0.5)
        assert [(i.index, i.outcome) for i in compared.data] == [
            (1, "b_only"),
            (2, "a_only"),
            (0, "both"),
            (3, "neither"),
        ]
        first = await store.compare(conn, a, b, limit=3)
        rest = await store.compare(conn, a, b, limit=3, cursor=first.next_cursor)
        assert [i.index for i in first.data + rest.data] == [1, 2, 0, 3]
        other_target = await store.create_evaluation(
            engine,
            run_id=run_id,
            model_id="m",
            options=EvaluationOptions(evalset="arithmetic-v1"),
            target=TARGET.model_copy(update={"name": "arithmetic-v1"}),
        )
        with pytest.raises(InvalidInputError, match="different targets"):
            await store.compare(conn, a, other_target)
        with pytest.raises(NotFoundError):
            await store.compare(conn, a, uuid.uuid4())


async def test_outputs_become_traces_and_a_dataset_of_the_correct_ones(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    run_id = await succeeded_run(engine)
    evaluation_id = await finished_evaluation(engine, run_id, ["42", "41", "20", "oops"], base=None)
    stored = await service.store_outputs(engine, evaluation_id)
    assert (stored.created_count, stored.skipped) == (4, 0)
    with pytest.raises(ConflictError, match="already stored"):
        await service.store_outputs(engine, evaluation_id)
    built = await build_dataset(
        engine,
        tmp_path,
        DatasetBuildRequest(
            dataset_name="model-correct",
            dataset_version="1",
            filters=DatasetFilters(source="model", meta={"correct": True}),
            limit=100,
            allow_eval_prompts=True,
        ),
    )
    assert built.trace_count == 2
    from tunix_rt.datasets.store import get_manifest
    from tunix_rt.traces.store import get_trace

    async with engine.connect() as conn:
        ids = (await get_manifest(conn, built.dataset_key)).trace_ids
        traces = sorted([(await get_trace(conn, i)).payload for i in ids], key=lambda t: t.prompt)
        assert (await store.get_evaluation(conn, evaluation_id)).traces_stored == 4
    assert [t.prompt for t in traces] == ["What is 10 + 10?", "What is 12 + 30?"]
    trace = traces[1]
    assert [s.content for s in trace.steps] == ["Add the ones.", "Add the tens."]
    assert trace.final_answer == "42"
    assert trace.meta == {
        "operation": "add",
        "source": "model",
        "run_id": str(run_id),
        "evaluation_id": str(evaluation_id),
        "eval_index": 0,
        "correct": True,
        "format_ok": True,
        "expected_answer": "42",
    }

    queued = await store.create_evaluation(
        engine, run_id=run_id, model_id="m", options=OPTIONS, target=TARGET
    )
    with pytest.raises(ConflictError, match="is queued"):
        await service.store_outputs(engine, queued)


@pytest.mark.parametrize(
    ("status", "result", "error", "reason"),
    [
        ("queued", None, None, "it is queued and has no checkpoint yet"),
        ("failed", None, "boom", "it failed (boom) and has no checkpoint"),
        ("cancelled", None, "cancelled before it started", "it was cancelled before it saved"),
    ],
)
async def test_runs_without_a_checkpoint_cannot_be_evaluated(
    engine: AsyncEngine, status: str, result: Any, error: str | None, reason: str
) -> None:
    run_id = await runs_store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    if status != "queued":
        await jobs.finish(engine, "run", run_id, status, error=error, result=result)  # type: ignore[arg-type]
    with pytest.raises(ConflictError) as refused:
        await service.submit(engine, run_id, OPTIONS)
    assert str(refused.value).startswith(f"run {run_id} cannot be evaluated: {reason}")
    with pytest.raises(NotFoundError, match="not found"):
        await service.submit(engine, uuid.uuid4(), OPTIONS)


async def test_a_dataset_target_needs_an_expected_answer_on_every_trace(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    from helpers.factories import make_trace
    from tunix_rt.evals.targets import load_items, pin
    from tunix_rt.traces.schema import ReasoningTrace
    from tunix_rt.traces.store import create_trace

    answers: list[Any] = ["4", 7, "  ", None, True, 1.5, "-3"]
    ids = []
    for index, answer in enumerate(answers):
        meta: dict[str, Any] = {"source": "t", "n": index}
        if answer is not None:
            meta["expected_answer"] = answer
        trace = ReasoningTrace.model_validate(make_trace(index, meta=meta))
        ids.append((await create_trace(engine, trace)).id)

    async def dataset(name: str, positions: list[int]) -> str:
        request = DatasetBuildRequest(
            dataset_name=name,
            dataset_version="1",
            filters=DatasetFilters(source="t", meta={"n": positions[0]})
            if len(positions) == 1
            else DatasetFilters(source="t"),
            limit=100,
        )
        return (await build_dataset(engine, tmp_path, request)).dataset_key

    good = await dataset("good", [0])
    target = await pin(engine, EvaluationOptions(dataset_key=good, limit=10))
    assert (target.kind, target.name, target.items) == ("dataset", good, 1)
    (item,) = await load_items(engine, target)
    assert (item.expected, item.meta["n"], item.meta["trace_id"]) == ("4", 0, str(ids[0]))
    assert item.prompt.startswith("<start_of_turn>user\n") and item.prompt.endswith(
        "<start_of_turn>model\n"
    )
    integer = await dataset("integer", [1])
    assert (await pin(engine, EvaluationOptions(dataset_key=integer))).items == 1
    for bad in (2, 3, 4, 5):
        key = await dataset(f"bad{bad}", [bad])
        with pytest.raises(InvalidInputError) as refused:
            await pin(engine, EvaluationOptions(dataset_key=key))
        assert str(refused.value).startswith(f"trace {ids[bad]} of dataset {key} has no")
    # In manifest order (newest first by default): the first trace without one is named.
    everything = await dataset("all", list(range(len(answers))))
    with pytest.raises(InvalidInputError, match=str(ids[5])):
        await pin(engine, EvaluationOptions(dataset_key=everything))
    with pytest.raises(InvalidInputError, match="has no split 'val'"):
        await pin(engine, EvaluationOptions(dataset_key=good, split="val"))
    with pytest.raises(NotFoundError):
        await pin(engine, EvaluationOptions(dataset_key="nope-1"))


async def test_items_wrong_answers_first_page_by_rank_and_index(engine: AsyncEngine) -> None:
    run_id = await succeeded_run(engine)
    evaluation_id = await finished_evaluation(
        engine, run_id, trained=["42", "0", "20", "1"], base=["0", "42", "0", "-1"]
    )
    async with engine.connect() as conn:
        whole = await store.list_items(conn, evaluation_id, order="wrong_first")
        assert [(i.index, i.correct) for i in whole.data] == [
            (1, False),
            (3, False),
            (0, True),
            (2, True),
        ]
        assert whole.next_cursor is None
        seen, cursor = [], None
        while True:
            page = await store.list_items(
                conn, evaluation_id, order="wrong_first", limit=1, cursor=cursor
            )
            seen += [i.index for i in page.data]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [1, 3, 0, 2]
        base = await store.list_items(conn, evaluation_id, subject="base", order="wrong_first")
        assert [i.index for i in base.data] == [0, 2, 1, 3]
        right = await store.list_items(conn, evaluation_id, correct=True, order="wrong_first")
        assert [i.index for i in right.data] == [0, 2]
        # A cursor of one order is refused by the other.
        by_index = await store.list_items(conn, evaluation_id, limit=1)
        with pytest.raises(InvalidInputError, match="cursor"):
            await store.list_items(
                conn, evaluation_id, order="wrong_first", cursor=by_index.next_cursor
            )


async def test_leaderboard_rows_carry_the_interval_and_the_choices_list_targets(
    engine: AsyncEngine,
) -> None:
    from tunix_rt.evals.scoring import wilson_interval

    run_id = await succeeded_run(engine)
    finished = await finished_evaluation(engine, run_id, ["42", "42", "20", "0"], base=None)
    await store.create_evaluation(
        engine,
        run_id=run_id,
        model_id="google/gemma-3-270m",
        options=EvaluationOptions(dataset_key="fresh-v1"),
        target=EvaluationTarget(kind="dataset", name="fresh-v1", sha256="cd" * 32, items=2),
    )
    async with engine.connect() as conn:
        (row,) = (await store.leaderboard(conn)).data
        assert row.id == finished
        assert (row.accuracy_low, row.accuracy_high) == pytest.approx(wilson_interval(3, 4))
        queued = (await store.leaderboard(conn, sort="date")).data[0]
        assert (queued.accuracy, queued.accuracy_low, queued.accuracy_high) == (None, None, None)
        choices = await store.leaderboard_choices(conn)
    assert choices.evalsets == ["arithmetic-add-sub-v1"]
    assert choices.dataset_keys == ["fresh-v1"]
    assert choices.model_ids == ["google/gemma-3-270m", "tunix-rt/tiny"]
