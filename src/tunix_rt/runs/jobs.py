"""The job queue shared by training runs and evaluations.

Both kinds live in their own table with the same job columns (`status`, `created_at`,
`started_at`, `finished_at`, `host`, `pid`, `cancel_requested`, `error`) and go
`queued → running → succeeded | failed | cancelled`. One executor claims them, oldest first
across both tables, under one concurrency cap (`TUNIX_RT_MAX_CONCURRENT_RUNS` counts runs and
evaluations together).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, Table, and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.clock import utc_now
from tunix_rt.db.models import evaluations_table as E
from tunix_rt.db.models import runs_table as R
from tunix_rt.errors import ConflictError, NotFoundError
from tunix_rt.runs.schema import FINISHED, RunStatus

HOST = socket.gethostname()
#: The error of a job whose process ended without recording how the job ended.
PROCESS_GONE = "the worker process is gone (the server stopped or crashed while it ran)"
_CLAIM_LOCK = 0x7275_6E73  # "runs": PostgreSQL advisory lock around claiming

JobKind = Literal["run", "evaluation"]
TABLES: MappingProxyType[JobKind, Table] = MappingProxyType({"run": R, "evaluation": E})


@dataclass(frozen=True)
class Job:
    """A queued or running unit of work; `run_id` is the run it belongs to (itself for a run)."""

    kind: JobKind
    id: uuid.UUID
    run_id: uuid.UUID


@dataclass(frozen=True)
class RunningJob:
    job: Job
    pid: int | None
    cancel_requested: bool


def _not_found(kind: JobKind, job_id: uuid.UUID) -> NotFoundError:
    return NotFoundError(f"{kind} {job_id} not found")


async def job_row(conn: AsyncConnection, kind: JobKind, job_id: uuid.UUID) -> Row[Any]:
    """The job's whole row; NotFoundError (`run <id> not found`) when there is none."""
    table = TABLES[kind]
    row = (await conn.execute(select(table).where(table.c.id == job_id))).first()
    if row is None:
        raise _not_found(kind, job_id)
    return row


async def require_job(conn: AsyncConnection, kind: JobKind, job_id: uuid.UUID) -> None:
    """NotFoundError unless the job exists (one indexed lookup, no row decoded)."""
    table = TABLES[kind]
    if (await conn.execute(select(table.c.id).where(table.c.id == job_id))).first() is None:
        raise _not_found(kind, job_id)


def _run_column(table: Table) -> Any:
    return table.c.id if table is R else table.c.run_id


def _running_everywhere() -> ColumnElement[int]:
    counts = [
        select(func.count()).select_from(t).where(t.c.status == "running").scalar_subquery()
        for t in TABLES.values()
    ]
    total: ColumnElement[int] = counts[0]
    for count in counts[1:]:
        total = total + count
    return total


async def claim_next(
    engine: AsyncEngine, max_running: int, *, kinds: tuple[JobKind, ...] = ("run", "evaluation")
) -> Job | None:
    """Mark the oldest queued job as running on this host, unless `max_running` jobs of any kind
    already run.

    One statement on SQLite (its writer lock makes it atomic); on PostgreSQL an advisory lock
    serialises claims, and SKIP LOCKED lets several servers share one queue safely.
    """
    oldest: list[tuple[Any, JobKind]] = []
    async with engine.connect() as conn:  # a read: an idle queue never takes the write lock
        for kind in kinds:
            table = TABLES[kind]
            queued = (
                select(table.c.created_at)
                .where(table.c.status == "queued")
                .order_by(table.c.created_at)
                .limit(1)
            )
            row = (await conn.execute(queued)).first()
            if row is not None:
                oldest.append((row[0], kind))
    for _, kind in sorted(oldest):
        job = await _claim(engine, kind, max_running)
        if job is not None:
            return job
    return None


async def _claim(engine: AsyncEngine, kind: JobKind, max_running: int) -> Job | None:
    table = TABLES[kind]
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CLAIM_LOCK})
        oldest = (
            select(table.c.id)
            .where(table.c.status == "queued")
            .order_by(table.c.created_at, table.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(table)
            .where(
                and_(
                    table.c.id == oldest,
                    table.c.status == "queued",
                    _running_everywhere() < max_running,
                )
            )
            .values(status="running", host=HOST, started_at=utc_now())
            .returning(table.c.id, _run_column(table))
        )
        row = (await conn.execute(stmt)).first()
    return None if row is None else Job(kind, row[0], row[1])


async def set_pid(engine: AsyncEngine, job: Job, pid: int) -> None:
    table = TABLES[job.kind]
    async with engine.begin() as conn:
        await conn.execute(update(table).where(table.c.id == job.id).values(pid=pid))


async def finish(
    engine: AsyncEngine,
    kind: JobKind,
    job_id: uuid.UUID,
    status: RunStatus,
    *,
    error: str | None = None,
    **values: Any,
) -> bool:
    """Move a job that has not finished yet to a final status (with the kind's own result
    columns in `values`); False if it already had one."""
    assert status in FINISHED
    table = TABLES[kind]
    async with engine.begin() as conn:
        outcome = await conn.execute(
            update(table)
            .where(table.c.id == job_id, table.c.status.in_(["queued", "running"]))
            .values(status=status, finished_at=utc_now(), error=error, **values)
        )
    return bool(outcome.rowcount)


async def explain_stop(engine: AsyncEngine, kind: JobKind, job_id: uuid.UUID, reason: str) -> None:
    """Make `reason` the error of a job its worker ended as `cancelled` without anyone asking
    (a signal from the server stopped it, not a cancel)."""
    table = TABLES[kind]
    async with engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(
                table.c.id == job_id,
                table.c.status == "cancelled",
                table.c.cancel_requested.is_(False),
            )
            .values(error=reason)
        )


async def request_cancel(engine: AsyncEngine, kind: JobKind, job_id: uuid.UUID) -> RunStatus:
    """Cancel a queued job at once; ask a running one to stop. Returns the status after."""
    table = TABLES[kind]
    async with engine.begin() as conn:
        row = (await conn.execute(select(table.c.status).where(table.c.id == job_id))).first()
        if row is None:
            raise _not_found(kind, job_id)
        status: RunStatus = row[0]
        if status in FINISHED:
            raise ConflictError(f"{kind} {job_id} already {status}")
        if status == "queued":
            await conn.execute(
                update(table)
                .where(table.c.id == job_id, table.c.status == "queued")
                .values(
                    status="cancelled", finished_at=utc_now(), error="cancelled before it started"
                )
            )
            return "cancelled"
        await conn.execute(update(table).where(table.c.id == job_id).values(cancel_requested=True))
        return "running"


async def cancel_requested(engine: AsyncEngine, kind: JobKind, job_id: uuid.UUID) -> bool:
    table = TABLES[kind]
    async with engine.connect() as conn:
        value = (
            await conn.execute(select(table.c.cancel_requested).where(table.c.id == job_id))
        ).scalar()
    return bool(value)


async def running_here(engine: AsyncEngine) -> list[RunningJob]:
    """The jobs of every kind that this host is running."""
    found: list[RunningJob] = []
    async with engine.connect() as conn:
        for kind, table in TABLES.items():
            rows = await conn.execute(
                select(table.c.id, _run_column(table), table.c.pid, table.c.cancel_requested)
                .where(table.c.status == "running", table.c.host == HOST)
                .order_by(table.c.created_at)
            )
            found += [
                RunningJob(Job(kind, row[0], row[1]), row[2], bool(row[3])) for row in rows.all()
            ]
    return found


async def insert_job(
    engine: AsyncEngine, table: Table, status: RunStatus, pid: int | None, **values: Any
) -> uuid.UUID:
    """Insert a new job row of `table` (runs or evaluations) with its own `values`: queued, or
    already running here (a foreground job, whose `pid` is this process). Returns its id."""
    job_id = uuid.uuid4()
    now = utc_now()
    running = status == "running"
    async with engine.begin() as conn:
        await conn.execute(
            table.insert().values(
                id=job_id,
                status=status,
                created_at=now,
                started_at=now if running else None,
                host=HOST if running else None,
                pid=pid,
                cancel_requested=False,
                **values,
            )
        )
    return job_id


def process_alive(pid: int | None) -> bool:
    """Whether process `pid` exists and has not ended: a zombie (a worker of a killed server
    that nobody has reaped yet) is gone."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # reaped since, or a system without /proc, where kill(pid, 0) must do
        return not Path("/proc/self").is_dir()
    state = stat[stat.rindex(")") + 2 :].split(maxsplit=1)[0]  # the field after (command)
    return state != "Z"
