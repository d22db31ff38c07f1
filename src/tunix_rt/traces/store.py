"""Trace storage: set-based inserts, keyset pages, lookups, deletes and stored scores."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, literal, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.clock import utc_now
from tunix_rt.db.bulk import insert_trace_rows
from tunix_rt.db.models import dataset_items_table, scores_table, traces_table
from tunix_rt.db.types import UTCDateTime
from tunix_rt.errors import ConflictError, InvalidInputError, NotFoundError
from tunix_rt.traces.rows import trace_row
from tunix_rt.traces.schema import ReasoningTrace, ScoredTrace, TraceRecord, TraceSummary
from tunix_rt.traces.scoring import Criteria, ScoreResult, baseline_score, score_trace

T = traces_table


def _summary(row: dict[str, Any]) -> TraceSummary:
    return TraceSummary(
        id=row["id"], created_at=row["created_at"], trace_version=row["trace_version"]
    )


async def create_trace(engine: AsyncEngine, trace: ReasoningTrace) -> TraceSummary:
    """Store one trace."""
    row = trace_row(trace, created_at=utc_now())
    async with engine.begin() as conn:
        await insert_trace_rows(conn, [row])
    return _summary(row)


async def create_traces(
    engine: AsyncEngine, traces: Sequence[ReasoningTrace], *, max_items: int | None = None
) -> list[TraceSummary]:
    """Store every trace in one transaction, or none of them (none when there are more than
    `max_items`)."""
    if max_items is not None and len(traces) > max_items:
        raise InvalidInputError(f"a batch holds at most {max_items} traces; got {len(traces)}")
    created_at = utc_now()
    rows = [trace_row(trace, created_at=created_at) for trace in traces]
    async with engine.begin() as conn:
        await insert_trace_rows(conn, rows)
    return [_summary(row) for row in rows]


_RECORD_COLUMNS = (T.c.id, T.c.created_at, T.c.trace_version, T.c.payload)


async def get_trace(
    conn: AsyncConnection, trace_id: uuid.UUID, *, label: str = "trace"
) -> TraceRecord:
    """The stored trace `trace_id`; `NotFoundError` names it with `label` when it is missing."""
    row = (await conn.execute(select(*_RECORD_COLUMNS).where(T.c.id == trace_id))).first()
    if row is None:
        raise NotFoundError(f"{label} {trace_id} not found")
    return TraceRecord(
        id=row.id,
        created_at=row.created_at,
        trace_version=row.trace_version,
        payload=ReasoningTrace.model_validate(row.payload),
    )


async def scored_pair(
    conn: AsyncConnection, base: uuid.UUID, other: uuid.UUID
) -> tuple[ScoredTrace, ScoredTrace]:
    """Two stored traces, each with its baseline score (for side-by-side comparison)."""

    def scored(record: TraceRecord) -> ScoredTrace:
        return ScoredTrace(**dict(record), score=baseline_score(record.payload).score)

    return (
        scored(await get_trace(conn, base, label="base trace")),
        scored(await get_trace(conn, other, label="other trace")),
    )


async def delete_trace(engine: AsyncEngine, trace_id: uuid.UUID) -> None:
    """Delete a trace and its scores; refused while a dataset holds it."""
    try:
        async with engine.begin() as conn:
            result = await conn.execute(delete(T).where(T.c.id == trace_id))
            if result.rowcount == 0:
                raise NotFoundError(f"trace {trace_id} not found")
    except IntegrityError as exc:  # held by a dataset (dataset_items.trace_seq RESTRICT)
        async with engine.connect() as conn:
            holders = await datasets_holding(conn, trace_id)
        raise ConflictError(
            f"trace {trace_id} belongs to dataset(s) {', '.join(holders)}; "
            "datasets are immutable, so delete those datasets first"
        ) from exc


async def datasets_holding(conn: AsyncConnection, trace_id: uuid.UUID) -> list[str]:
    """Keys of the datasets that hold trace `trace_id`."""
    stmt = (
        select(dataset_items_table.c.dataset_key)
        .join(T, T.c.seq == dataset_items_table.c.trace_seq)
        .where(T.c.id == trace_id)
        .distinct()
        .order_by(dataset_items_table.c.dataset_key)
    )
    return list((await conn.execute(stmt)).scalars().all())


async def count_traces(conn: AsyncConnection) -> int:
    """How many traces are stored."""
    return int((await conn.execute(select(func.count()).select_from(T))).scalar_one())


# --- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceFilters:
    """What a trace listing, export or dataset selection can be narrowed by."""

    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    prompt_contains: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions: `meta.source` equals, created at or after / before, prompt
        contains (case-insensitive)."""
        conditions: list[ColumnElement[bool]] = []
        if self.source is not None:
            conditions.append(T.c.source == self.source)
        if self.created_after is not None:
            conditions.append(T.c.created_at >= self.created_after)
        if self.created_before is not None:
            conditions.append(T.c.created_at < self.created_before)
        if self.prompt_contains:
            conditions.append(T.c.prompt.icontains(self.prompt_contains, autoescape=True))
        return conditions


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order: the last row a page showed."""

    created_at: datetime
    seq: int

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            stamp, seq = raw.split("|")
            created_at = datetime.fromisoformat(stamp)
            if created_at.tzinfo is None:
                raise ValueError("naive timestamp")
            return cls(created_at=created_at, seq=int(seq))
        except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
            raise InvalidInputError(
                "cursor is not one that a trace list returned", loc=("cursor",)
            ) from exc


@dataclass(frozen=True)
class TracePage:
    items: list[TraceSummary]
    next_cursor: str | None
    has_more: bool


async def list_traces(
    conn: AsyncConnection,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
    filters: TraceFilters = TraceFilters(),
) -> TracePage:
    """Newest first. Keyset paging with `cursor` (a page's `next_cursor`) costs the same at any
    depth; `offset` does not. One or the other."""
    rows, next_cursor = await _newest_first(
        conn, (T.c.trace_version,), limit=limit, offset=offset, cursor=cursor, filters=filters
    )
    items = [
        TraceSummary(id=r.id, created_at=r.created_at, trace_version=r.trace_version) for r in rows
    ]
    return TracePage(items=items, next_cursor=next_cursor, has_more=next_cursor is not None)


async def _newest_first(
    conn: AsyncConnection,
    columns: Sequence[ColumnElement[Any]],
    *,
    limit: int,
    offset: int,
    cursor: str | None,
    filters: TraceFilters,
) -> tuple[Sequence[Row[Any]], str | None]:
    """One page of matching rows (`seq`, `id`, `created_at` and `columns`), newest first, and
    the cursor of the next page (None on the last)."""
    if cursor is not None and offset:
        raise InvalidInputError("use either offset or cursor, not both", loc=("cursor",))
    after = Cursor.decode(cursor) if cursor is not None else None
    stmt = select(T.c.seq, T.c.id, T.c.created_at, *columns).where(*filters.conditions())
    if after is not None:
        position = tuple_(literal(after.created_at, UTCDateTime()), after.seq)
        stmt = stmt.where(tuple_(T.c.created_at, T.c.seq) < position)
    stmt = stmt.order_by(T.c.created_at.desc(), T.c.seq.desc()).limit(limit + 1).offset(offset)
    rows = (await conn.execute(stmt)).all()
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], Cursor(rows[limit - 1].created_at, rows[limit - 1].seq).encode()


@dataclass(frozen=True)
class TraceOverview:
    """A trace as a list of traces shows it: the start of its prompt, its source, its steps."""

    id: uuid.UUID
    created_at: datetime
    trace_version: str
    source: str | None
    #: The prompt's first `prompt_chars` characters, then an ellipsis when there is more.
    prompt: str
    step_count: int


@dataclass(frozen=True)
class TraceOverviewPage:
    items: list[TraceOverview]
    next_cursor: str | None


async def list_trace_overviews(
    conn: AsyncConnection,
    *,
    limit: int,
    cursor: str | None = None,
    filters: TraceFilters = TraceFilters(),
    prompt_chars: int = 160,
) -> TraceOverviewPage:
    """`list_traces` with what a table of traces shows, read from the indexed columns (no
    payloads); a prompt is cut in SQL to `prompt_chars` characters and an ellipsis."""
    prompt_start = func.substr(T.c.prompt, 1, prompt_chars + 1).label("prompt_start")
    rows, next_cursor = await _newest_first(
        conn,
        (T.c.trace_version, T.c.source, T.c.step_count, prompt_start),
        limit=limit,
        offset=0,
        cursor=cursor,
        filters=filters,
    )
    items = [
        TraceOverview(
            id=r.id,
            created_at=r.created_at,
            trace_version=r.trace_version,
            source=r.source,
            prompt=_clip(r.prompt_start, prompt_chars),
            step_count=r.step_count,
        )
        for r in rows
    ]
    return TraceOverviewPage(items=items, next_cursor=next_cursor)


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars].rstrip() + "\u2026"


async def stream_traces(
    conn: AsyncConnection,
    *,
    filters: TraceFilters = TraceFilters(),
    batch_size: int = 2000,
    limit: int | None = None,
) -> AsyncIterator[tuple[uuid.UUID, datetime, dict[str, Any]]]:
    """Every matching trace (the first `limit`), oldest first, as `(id, created_at, payload)`,
    in constant memory."""
    stmt = select(T.c.id, T.c.created_at, T.c.payload).where(*filters.conditions())
    stmt = stmt.order_by(T.c.created_at, T.c.seq).execution_options(yield_per=batch_size)
    if limit is not None:
        stmt = stmt.limit(limit)
    result = await conn.stream(stmt)
    async for partition in result.partitions(batch_size):
        for row in partition:
            yield row.id, row.created_at, row.payload


# --- scores --------------------------------------------------------------------------------


async def score_and_store(
    engine: AsyncEngine, trace_id: uuid.UUID, criteria: Criteria
) -> ScoreResult:
    """Score a stored trace and keep the result (replacing an earlier one of the same criteria)."""
    async with engine.connect() as conn:
        record = await get_trace(conn, trace_id)
    result = score_trace(record.payload, criteria)
    values = {
        "trace_id": trace_id,
        "criteria": criteria,
        "score": result.score,
        "details": result.details,
        "scored_at": datetime.fromisoformat(result.details["scored_at"]),
    }
    async with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(scores_table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["trace_id", "criteria"],
            set_={
                "score": stmt.excluded.score,
                "details": stmt.excluded.details,
                "scored_at": stmt.excluded.scored_at,
            },
        )
        try:
            await conn.execute(stmt)
        except IntegrityError as exc:  # the trace was deleted between the read and the write
            raise NotFoundError(f"trace {trace_id} not found") from exc
    return result


@dataclass(frozen=True)
class StoredScore:
    """The latest score of a trace under one criteria, with what it was made of."""

    criteria: str
    score: float
    details: dict[str, Any]
    scored_at: datetime


async def stored_scores(conn: AsyncConnection, trace_id: uuid.UUID) -> list[StoredScore]:
    """The scores stored for trace `trace_id` (one per criteria scored), by criteria name."""
    S = scores_table
    stmt = (
        select(S.c.criteria, S.c.score, S.c.details, S.c.scored_at)
        .where(S.c.trace_id == trace_id)
        .order_by(S.c.criteria)
    )
    return [
        StoredScore(criteria=r.criteria, score=r.score, details=r.details, scored_at=r.scored_at)
        for r in await conn.execute(stmt)
    ]
