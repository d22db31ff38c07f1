"""The run registry: create, claim, update and read runs and their metrics."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.db.models import run_metrics_table as M
from tunix_rt.db.models import runs_table as R
from tunix_rt.errors import ConflictError, NotFoundError
from tunix_rt.runs.schema import FINISHED, MetricPoint, RunRecord, RunStatus, RunSummary
from tunix_rt.traces.store import utc_now

HOST = socket.gethostname()
_CLAIM_LOCK = 0x7275_6E73  # "runs": PostgreSQL advisory lock around claiming


async def create_run(
    engine: AsyncEngine,
    *,
    dataset_key: str,
    manifest: dict[str, Any],
    status: RunStatus = "queued",
    pid: int | None = None,
) -> uuid.UUID:
    run_id = uuid.uuid4()
    now = utc_now()
    async with engine.begin() as conn:
        await conn.execute(
            insert(R).values(
                id=run_id,
                status=status,
                created_at=now,
                started_at=now if status == "running" else None,
                dataset_key=dataset_key,
                manifest=manifest,
                host=HOST if status == "running" else None,
                pid=pid,
                cancel_requested=False,
            )
        )
    return run_id


def _record(row: Any) -> RunRecord:
    return RunRecord.model_validate(dict(row._mapping))


async def get_run(conn: AsyncConnection, run_id: uuid.UUID) -> RunRecord:
    row = (await conn.execute(select(R).where(R.c.id == run_id))).first()
    if row is None:
        raise NotFoundError(f"run {run_id} not found")
    return _record(row)


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


async def claim_next(engine: AsyncEngine, max_running: int) -> uuid.UUID | None:
    """Mark the oldest queued run as running on this host, unless `max_running` already run.

    One statement on SQLite (its writer lock makes it atomic); on PostgreSQL an advisory lock
    serialises claims, and SKIP LOCKED lets several servers share one queue safely.
    """
    async with engine.connect() as conn:  # a read: an idle queue never takes the write lock
        queued = select(R.c.id).where(R.c.status == "queued").limit(1)
        if (await conn.execute(queued)).first() is None:
            return None
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
        oldest = (
            select(R.c.id)
            .where(R.c.status == "queued")
            .order_by(R.c.created_at, R.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        running = select(func.count()).select_from(R).where(R.c.status == "running")
        stmt = (
            update(R)
            .where(
                and_(
                    R.c.id == oldest,
                    R.c.status == "queued",
                    running.scalar_subquery() < max_running,
                )
            )
            .values(status="running", host=HOST, started_at=utc_now())
            .returning(R.c.id)
        )
        row = (await conn.execute(stmt)).first()
    return None if row is None else row[0]


async def set_pid(engine: AsyncEngine, run_id: uuid.UUID, pid: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(R).where(R.c.id == run_id).values(pid=pid))


async def finish(
    engine: AsyncEngine,
    run_id: uuid.UUID,
    status: RunStatus,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Move a run that has not finished yet to a final status; False if it already had one."""
    assert status in FINISHED
    async with engine.begin() as conn:
        outcome = await conn.execute(
            update(R)
            .where(R.c.id == run_id, R.c.status.in_(["queued", "running"]))
            .values(status=status, finished_at=utc_now(), error=error, result=result)
        )
    return bool(outcome.rowcount)


async def request_cancel(engine: AsyncEngine, run_id: uuid.UUID) -> RunStatus:
    """Cancel a queued run at once; ask a running one to stop. Returns the status after."""
    async with engine.begin() as conn:
        row = (await conn.execute(select(R.c.status).where(R.c.id == run_id))).first()
        if row is None:
            raise NotFoundError(f"run {run_id} not found")
        status: RunStatus = row[0]
        if status in FINISHED:
            raise ConflictError(f"run {run_id} already {status}")
        if status == "queued":
            await conn.execute(
                update(R)
                .where(R.c.id == run_id, R.c.status == "queued")
                .values(
                    status="cancelled", finished_at=utc_now(), error="cancelled before it started"
                )
            )
            return "cancelled"
        await conn.execute(update(R).where(R.c.id == run_id).values(cancel_requested=True))
        return "running"


async def cancel_requested(engine: AsyncEngine, run_id: uuid.UUID) -> bool:
    async with engine.connect() as conn:
        value = (await conn.execute(select(R.c.cancel_requested).where(R.c.id == run_id))).scalar()
    return bool(value)


async def running_here(engine: AsyncEngine) -> list[tuple[uuid.UUID, int | None, bool]]:
    """`(id, pid, cancel_requested)` of the runs this host is running."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(R.c.id, R.c.pid, R.c.cancel_requested).where(
                    R.c.status == "running", R.c.host == HOST
                )
            )
        ).all()
    return [(r.id, r.pid, r.cancel_requested) for r in rows]


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
