"""The run registry: create and read runs and their metrics (the queue is `runs.jobs`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.db.models import run_metrics_table as M
from tunix_rt.db.models import runs_table as R
from tunix_rt.runs.jobs import insert_job, job_row, require_job
from tunix_rt.runs.schema import MetricPoint, RunRecord, RunStatus, RunSummary


async def create_run(
    engine: AsyncEngine,
    *,
    dataset_key: str,
    manifest: dict[str, Any],
    status: RunStatus = "queued",
    pid: int | None = None,
) -> uuid.UUID:
    return await insert_job(engine, R, status, pid, dataset_key=dataset_key, manifest=manifest)


def _record(row: Any) -> RunRecord:
    return RunRecord.model_validate(dict(row._mapping))


async def require_run(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    """NotFoundError unless the run exists (one indexed lookup, no row decoded)."""
    await require_job(conn, "run", run_id)


async def get_run(conn: AsyncConnection, run_id: uuid.UUID) -> RunRecord:
    return _record(await job_row(conn, "run", run_id))


async def list_runs(
    conn: AsyncConnection,
    *,
    status: str | None = None,
    dataset_key: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[RunSummary], bool]:
    stmt = select(
        R.c.id, R.c.status, R.c.dataset_key, R.c.created_at, R.c.started_at, R.c.finished_at
    )
    if status is not None:
        stmt = stmt.where(R.c.status == status)
    if dataset_key is not None:
        stmt = stmt.where(R.c.dataset_key == dataset_key)
    stmt = stmt.order_by(R.c.created_at.desc(), R.c.id).limit(limit + 1).offset(offset)
    rows = (await conn.execute(stmt)).all()
    items = [RunSummary.model_validate(dict(r._mapping)) for r in rows[:limit]]
    return items, len(rows) > limit


async def add_metrics(
    engine: AsyncEngine, run_id: uuid.UUID, points: Sequence[MetricPoint]
) -> None:
    if not points:
        return
    async with engine.begin() as conn:
        await conn.execute(
            insert(M), [{"run_id": run_id, **point.model_dump()} for point in points]
        )


_METRIC_COLUMNS = (
    M.c.step,
    M.c.loss,
    M.c.learning_rate,
    M.c.tokens_per_second,
    M.c.eval_loss,
    M.c.elapsed_seconds,
)


async def get_metrics(conn: AsyncConnection, run_id: uuid.UUID) -> list[MetricPoint]:
    stmt = select(*_METRIC_COLUMNS).where(M.c.run_id == run_id).order_by(M.c.step)
    rows = (await conn.execute(stmt)).all()
    return [MetricPoint.model_validate(dict(r._mapping)) for r in rows]


async def last_metric(conn: AsyncConnection, run_id: uuid.UUID) -> MetricPoint | None:
    stmt = select(*_METRIC_COLUMNS).where(M.c.run_id == run_id).order_by(M.c.step.desc()).limit(1)
    row = (await conn.execute(stmt)).first()
    return None if row is None else MetricPoint.model_validate(dict(row._mapping))
