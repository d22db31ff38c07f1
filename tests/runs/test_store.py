"""The run registry's reads for the runs pages, on SQLite and PostgreSQL: the runs table with
each run's model and last step, and a run's metrics thinned for charts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.models import run_metrics_table, runs_table
from tunix_rt.errors import ConflictError, NotFoundError
from tunix_rt.runs import service, store
from tunix_rt.runs.schema import MetricPoint, RunOverview


def manifest(key: str, model_id: str = "tunix-rt/tiny", **mode: str) -> dict[str, Any]:
    return {
        **mode,
        "model": {"model_id": model_id},
        "dataset": {"key": key, "path": f"datasets/{key}/tunix_sft.jsonl"},
        "output": {"output_dir": "model"},
    }


def point(step: int, loss: float, eval_loss: float | None = None) -> MetricPoint:
    return MetricPoint(
        step=step,
        loss=loss,
        learning_rate=1e-3 / step,
        tokens_per_second=100.0 * step,
        eval_loss=eval_loss,
        elapsed_seconds=0.5 * step,
    )


class CountStatements:
    """How many statements the engine sends while it is open."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine, self.count = engine.sync_engine, 0

    def _count(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> CountStatements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


async def test_the_overview_has_each_runs_model_and_last_step(engine: AsyncEngine) -> None:
    first = await store.create_run(engine, dataset_key="a-v1", manifest=manifest("a-v1"))
    second = await store.create_run(
        engine, dataset_key="b-v1", manifest=manifest("b-v1", "google/gemma-2b-it")
    )
    third = await store.create_run(
        engine, dataset_key="a-v1", manifest=manifest("a-v1"), status="running"
    )
    await store.add_metrics(engine, first, [point(1, 3.0), point(2, 2.5), point(3, 2.25, 2.0)])
    await store.add_metrics(engine, third, [point(1, 4.0)])

    async with engine.connect() as conn:
        with CountStatements(engine) as statements:
            items, more = await store.list_runs(conn)
        assert statements.count == 1
    assert not more
    assert [(r.id, r.model_id, r.last_step, r.last_loss) for r in items] == [
        (third, "tunix-rt/tiny", 1, 4.0),
        (second, "google/gemma-2b-it", None, None),
        (first, "tunix-rt/tiny", 3, 2.25),
    ]

    async with engine.connect() as conn:
        running, _ = await store.list_runs(conn, status="running")
        of_a, _ = await store.list_runs(conn, dataset_key="a-v1")
        page, more = await store.list_runs(conn, limit=1, offset=1)
        last_page, no_more = await store.list_runs(conn, limit=2, offset=1)
        none, _ = await store.list_runs(conn, status="failed")
    assert [r.id for r in running] == [third]
    assert [r.id for r in of_a] == [third, first]
    assert ([r.id for r in page], more) == ([second], True)
    assert ([r.id for r in last_page], no_more) == ([second, first], False)
    assert none == []


async def test_the_overview_of_many_runs_pages_and_filters(engine: AsyncEngine) -> None:
    runs, steps = 3000, 20
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [uuid.uuid4() for _ in range(runs)]
    statuses = ("succeeded", "failed", "cancelled", "running", "queued")
    async with engine.begin() as conn:
        await conn.execute(
            insert(runs_table),
            [
                {
                    "id": run_id,
                    "status": statuses[i % len(statuses)],
                    "created_at": start + timedelta(seconds=i),
                    "dataset_key": f"d{i % 7}-v1",
                    # An SFT manifest leaves `mode` out; every fourth run is a GRPO run.
                    "manifest": manifest(
                        f"d{i % 7}-v1", f"model-{i % 3}", **({"mode": "grpo"} if i % 4 else {})
                    ),
                    "cancel_requested": False,
                }
                for i, run_id in enumerate(ids)
            ],
        )
        await conn.execute(
            insert(run_metrics_table),
            [
                {"run_id": run_id, **point(step, 10.0 / step + i).model_dump()}
                for i, run_id in enumerate(ids)
                for step in range(1, steps + 1)
            ],
        )

    # How fast it is with many runs is measured by benchmarks/bench_pages.py (the runs page).
    async def overview(**filters: Any) -> list[RunOverview]:
        async with engine.connect() as conn:
            items, _ = await store.list_runs(conn, **filters)
        return items

    items = await overview()
    newest = runs - 1
    assert (items[0].id, items[0].model_id, items[0].last_step, items[0].last_loss) == (
        ids[newest],
        f"model-{newest % 3}",
        steps,
        10.0 / steps + newest,
    )
    assert len(items) == 20
    assert [run.mode for run in items] == ["grpo" if (newest - n) % 4 else "sft" for n in range(20)]
    failed = await overview(status="failed")
    assert len(failed) == 20 and {run.status for run in failed} == {"failed"}
    of_d3 = await overview(dataset_key="d3-v1")
    assert len(of_d3) == 20 and {run.dataset_key for run in of_d3} == {"d3-v1"}
    deep = await overview(offset=2000)
    assert [run.id for run in deep] == [ids[runs - 1 - 2000 - n] for n in range(20)]


async def test_curves_thin_long_runs_and_keep_the_last_step(engine: AsyncEngine) -> None:
    run_id = await store.create_run(engine, dataset_key="a-v1", manifest=manifest("a-v1"))
    await store.add_metrics(
        engine,
        run_id,
        [
            point(step, 1000.0 / step, 2000.0 / step if step % 10 == 0 else None)
            for step in range(1, 1001)
        ],
    )
    async with engine.connect() as conn:
        thinned = await service.run_curves(conn, run_id, max_points=30)
        whole = await service.run_curves(conn, run_id, max_points=1000)
    # 1000 steps in at most 30: every 35th step (1, 36, ..., 981) and the last.
    kept = [*range(1, 1001, 35), 1000]
    assert len(kept) == 30
    assert thinned.loss == [(step, 1000.0 / step) for step in kept]
    assert thinned.learning_rate == [(step, 1e-3 / step) for step in kept]
    assert thinned.tokens_per_second == [(step, 100.0 * step) for step in kept]
    # 100 eval losses in at most 30: every 4th (steps 10, 50, ..., 970) and the last.
    evals = [*range(10, 1001, 40), 1000]
    assert thinned.eval_loss == [(step, 2000.0 / step) for step in evals]
    assert thinned.last == point(1000, 1.0, 2.0)
    assert whole.loss == [(step, 1000.0 / step) for step in range(1, 1001)]
    assert whole.eval_loss == [(step, 2000.0 / step) for step in range(10, 1001, 10)]


async def test_curves_of_a_run_without_metrics_and_of_an_unknown_run(engine: AsyncEngine) -> None:
    run_id = await store.create_run(engine, dataset_key="a-v1", manifest=manifest("a-v1"))
    async with engine.connect() as conn:
        empty = await service.run_curves(conn, run_id)
        await store.add_metrics(engine, run_id, [point(1, 2.0), point(2, 1.5, 1.25)])
        two = await service.run_curves(conn, run_id)
        with pytest.raises(NotFoundError, match="not found"):
            await service.run_curves(conn, uuid.uuid4())
    assert (empty.loss, empty.eval_loss, empty.last) == ([], [], None)
    assert (two.loss, two.eval_loss) == ([(1, 2.0), (2, 1.5)], [(2, 1.25)])
    assert two.last == point(2, 1.5, 1.25)


async def test_dpo_steps_keep_their_rewards_and_chart_the_margin(engine: AsyncEngine) -> None:
    run_id = await store.create_run(engine, dataset_key="a-v1", manifest=manifest("a-v1"))
    steps = [
        point(step, 0.7 - 0.1 * step).model_copy(
            update={
                "reward_chosen": -0.5 * step,
                "reward_rejected": -0.75 * step,
                "reward_margin": 0.25 * step,
                "reward_accuracy": 0.25 * step,
            }
        )
        for step in (1, 2, 3)
    ]
    await store.add_metrics(engine, run_id, steps)
    other = await store.create_run(engine, dataset_key="a-v1", manifest=manifest("a-v1"))
    await store.add_metrics(engine, other, [point(1, 2.0)])
    async with engine.connect() as conn:
        stored = await service.run_metrics(conn, run_id)
        curves = await service.run_curves(conn, run_id)
        plain = await service.run_curves(conn, other)
    assert stored == steps
    assert curves.reward_margin == [(1, 0.25), (2, 0.5), (3, 0.75)]
    assert curves.reward_accuracy == [(1, 0.25), (2, 0.5), (3, 0.75)]
    assert curves.last == steps[-1]
    assert (plain.reward_margin, plain.reward_accuracy) == ([], [])
    assert plain.last is not None and plain.last.reward_margin is None


async def test_a_stored_manifest_this_version_cannot_read_is_a_conflict_naming_the_field(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    written_by_another_version = {**manifest("a-v1"), "grpo": {"num_generations": 4, "credit": 1}}
    run_id = await store.create_run(engine, dataset_key="a-v1", manifest=written_by_another_version)
    async with engine.connect() as conn:
        with pytest.raises(ConflictError) as refused:
            await service.run_rollouts(conn, tmp_path, run_id)
    assert str(refused.value) == (
        f"run {run_id}: its stored manifest is not one this version reads "
        "(grpo.credit: Extra inputs are not permitted)"
    )
