"""The run registry: create and read runs and their metrics (the queue is `runs.jobs`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.clock import utc_now
from tunix_rt.db.models import run_metrics_table as M
from tunix_rt.db.models import runs_table as R
from tunix_rt.runs.jobs import HOST, insert_job, job_row, require_job
from tunix_rt.runs.schema import (
    MetricPoint,
    RunCurves,
    RunOverview,
    RunRecord,
    RunStatus,
)


async def create_run(
    engine: AsyncEngine,
    *,
    dataset_key: str,
    manifest: dict[str, Any],
    status: RunStatus = "queued",
    pid: int | None = None,
) -> uuid.UUID:
    return await insert_job(engine, R, status, pid, dataset_key=dataset_key, manifest=manifest)


#: The statuses a run can be resumed from.
RESUMABLE: tuple[RunStatus, ...] = ("failed", "cancelled")


async def reopen_run(
    conn: AsyncConnection, run_id: uuid.UUID, *, after_step: int, pid: int | None = None
) -> bool:
    """Make a failed or cancelled run queued again (running here, as process `pid`, with a
    pid), with no outcome, and drop its metrics past `after_step`: the steps it trains again.
    False when it is not failed or cancelled (any more)."""
    running = pid is not None
    reopened = await conn.execute(
        update(R)
        .where(R.c.id == run_id, R.c.status.in_(RESUMABLE))
        .values(
            status="running" if running else "queued",
            started_at=utc_now() if running else None,
            finished_at=None,
            host=HOST if running else None,
            pid=pid,
            cancel_requested=False,
            error=None,
            result=None,
        )
    )
    if not reopened.rowcount:
        return False
    await conn.execute(delete(M).where(M.c.run_id == run_id, M.c.step > after_step))
    return True


def _record(row: Any) -> RunRecord:
    return RunRecord.model_validate(dict(row._mapping))


async def require_run(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    """NotFoundError unless the run exists (one indexed lookup, no row decoded)."""
    await require_job(conn, "run", run_id)


async def get_run(conn: AsyncConnection, run_id: uuid.UUID) -> RunRecord:
    return _record(await job_row(conn, "run", run_id))


def _runs_page(status: str | None, dataset_key: str | None, limit: int, offset: int) -> Select[Any]:
    """A page of runs' summary columns, newest first, one row more than `limit` (whether
    there is a next page)."""
    stmt = select(
        R.c.id, R.c.status, R.c.dataset_key, R.c.created_at, R.c.started_at, R.c.finished_at
    )
    if status is not None:
        stmt = stmt.where(R.c.status == status)
    if dataset_key is not None:
        stmt = stmt.where(R.c.dataset_key == dataset_key)
    return stmt.order_by(R.c.created_at.desc(), R.c.id).limit(limit + 1).offset(offset)


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
    M.c.kl,
    M.c.reward_mean,
    M.c.reward_std,
    M.c.rewards,
    M.c.completion_tokens,
    M.c.clip_fraction,
    M.c.groups_with_spread,
    M.c.reward_chosen,
    M.c.reward_rejected,
    M.c.reward_margin,
    M.c.reward_accuracy,
)


async def get_metrics(conn: AsyncConnection, run_id: uuid.UUID) -> list[MetricPoint]:
    stmt = select(*_METRIC_COLUMNS).where(M.c.run_id == run_id).order_by(M.c.step)
    rows = (await conn.execute(stmt)).all()
    return [MetricPoint.model_validate(dict(r._mapping)) for r in rows]


async def last_metric(conn: AsyncConnection, run_id: uuid.UUID) -> MetricPoint | None:
    stmt = select(*_METRIC_COLUMNS).where(M.c.run_id == run_id).order_by(M.c.step.desc()).limit(1)
    row = (await conn.execute(stmt)).first()
    return None if row is None else MetricPoint.model_validate(dict(row._mapping))


async def list_runs(
    conn: AsyncConnection,
    *,
    status: str | None = None,
    dataset_key: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[RunOverview], bool]:
    """A page of runs, newest first, each with its mode and model id (from its manifest) and its
    last step and loss, in one statement: the page is chosen first, then only its rows look up
    their manifest and their last metric (by the metrics' primary key)."""
    chosen = _runs_page(status, dataset_key, limit, offset).subquery()
    latest = M.alias("latest")
    last_step = (
        select(func.max(latest.c.step)).where(latest.c.run_id == chosen.c.id).scalar_subquery()
    )
    stmt = (
        select(
            chosen,
            func.coalesce(R.c.manifest["mode"].as_string(), "sft").label("mode"),
            R.c.manifest[("model", "model_id")].as_string().label("model_id"),
            M.c.step.label("last_step"),
            M.c.loss.label("last_loss"),
        )
        .join(R, R.c.id == chosen.c.id)
        .outerjoin(M, and_(M.c.run_id == chosen.c.id, M.c.step == last_step))
        .order_by(chosen.c.created_at.desc(), chosen.c.id)
    )
    rows = (await conn.execute(stmt)).all()
    items = [RunOverview.model_validate(dict(r._mapping)) for r in rows[:limit]]
    return items, len(rows) > limit


def _stride(count: Any, max_points: int) -> Any:
    """Every how many of `count` rows to keep so that they and the last are `max_points` at
    most: 1 when all fit, else ceil(count / (max_points - 1))."""
    return case((count <= max_points, 1), else_=(count + max_points - 2) // (max_points - 1))


async def metric_curves(conn: AsyncConnection, run_id: uuid.UUID, max_points: int) -> RunCurves:
    """A run's metrics as chart series, thinned in SQL to at most `max_points` (at least 2)
    steps, every n-th and the last, and at most `max_points` eval losses, chosen alike."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    numbered = (
        select(
            *_METRIC_COLUMNS,
            func.row_number().over(order_by=M.c.step).label("n"),
            func.count().over().label("total"),
            func.count(M.c.eval_loss).over(order_by=M.c.step).label("eval_n"),
            func.count(M.c.eval_loss).over().label("eval_total"),
        )
        .where(M.c.run_id == run_id)
        .subquery()
    )
    c = numbered.c
    in_steps = or_((c.n - 1) % _stride(c.total, max_points) == 0, c.n == c.total)
    in_evals = and_(
        c.eval_loss.is_not(None),
        or_(
            (c.eval_n - 1) % _stride(c.eval_total, max_points) == 0,
            c.eval_n == c.eval_total,
        ),
    )
    columns = [c[column.name] for column in _METRIC_COLUMNS]
    stmt = (
        select(*columns, in_steps.label("in_steps"), in_evals.label("in_evals"))
        .where(or_(in_steps, in_evals))
        .order_by(c.step)
    )
    rows = (await conn.execute(stmt)).all()
    steps = [row for row in rows if row.in_steps]
    last = steps[-1] if steps else None
    return RunCurves(
        loss=[(row.step, row.loss) for row in steps],
        eval_loss=[(row.step, row.eval_loss) for row in rows if row.in_evals],
        learning_rate=[(row.step, row.learning_rate) for row in steps],
        tokens_per_second=[(row.step, row.tokens_per_second) for row in steps],
        reward=[(row.step, row.reward_mean) for row in steps if row.reward_mean is not None],
        kl=[(row.step, row.kl) for row in steps if row.kl is not None],
        groups_with_spread=[
            (row.step, row.groups_with_spread)
            for row in steps
            if row.groups_with_spread is not None
        ],
        reward_margin=[
            (row.step, row.reward_margin) for row in steps if row.reward_margin is not None
        ],
        reward_accuracy=[
            (row.step, row.reward_accuracy) for row in steps if row.reward_accuracy is not None
        ],
        last=None if last is None else MetricPoint.model_validate(last, from_attributes=True),
    )
