"""Streaming dataset exports: one record per line, manifest order, constant memory.

Items are read in ranges of `BATCH_ROWS` positions straight from the database driver, and the
next ranges are already being read (by SQLite's worker thread, or by the PostgreSQL server) while
the current one is rendered, so reading and rendering overlap on two cores. Memory holds at most
`READS_AHEAD + 1` batches of rows and one rendered chunk, whatever the dataset's size.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from itertools import islice, pairwise
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.datasets.pairs import paired_evaluation
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.db.models import traces_table as T
from tunix_rt.formats import (
    EvaluatedRejection,
    ExportFormat,
    Renderer,
    encode_lines,
    render_preference,
    renderer_for,
)

#: Bumped whenever a renderer's output changes, so ETags of non-canonical exports change too.
RENDERER_VERSION = "1"
#: Positions per read; one rendered chunk holds at most this many lines (a few MiB of
#: `tunix_sft`: large enough to amortise a read, small enough to stream).
BATCH_ROWS = 1000
#: Reads queued ahead of the batch being rendered, on SQLite (PostgreSQL: one, see
#: `item_batches`).
READS_AHEAD = 2
_FIELD_SEPARATOR = "\x1f"

# One batch of a dataset's items: those whose position is in [start, stop). A bounded range on
# the primary key stays a short index range scan whatever the planner's statistics say (after a
# large build they are stale; PostgreSQL then planned `>= start ... LIMIT` as a scan of every
# remaining item per batch). The batch is aggregated by the database into three JSON texts: the
# positions, the dashed trace ids and the payloads, all in position order. Aggregating keeps
# the read inside the database (SQLite's step runs without the GIL on aiosqlite's thread; the
# PostgreSQL server is another process) and lets one `orjson.loads` decode a whole batch.
_ITEMS = (
    "SELECT i.position AS position, {trace_id} AS trace_id, t.payload AS payload{paired} "
    "FROM dataset_items i JOIN traces t ON t.seq = i.trace_seq {join}"
    "WHERE i.dataset_key = {key} AND i.position >= {start} AND i.position < {stop} {split}"
)
# A `preference` export of a dataset built from an evaluation also reads, per item, the
# evaluation's item when the evaluation got it wrong: found by its primary key, and aggregated
# into a fourth JSON text of `[index, completion]` pairs (`[null, null]`: none).
_PAIRED_COLUMNS = ", e.idx AS eval_idx, e.completion AS completion"
_PAIRED_JOIN = (
    "LEFT JOIN evaluation_items e ON e.evaluation_id = {evaluation} AND e.subject = 'trained' "
    "AND e.idx = i.eval_idx AND NOT e.correct "
)
_SQLITE_DASHED_ID = (
    "substr(t.id, 1, 8) || '-' || substr(t.id, 9, 4) || '-' || substr(t.id, 13, 4) || '-' || "
    "substr(t.id, 17, 4) || '-' || substr(t.id, 21)"
)
# SQLite 3.40 has no ORDER BY inside aggregates; its aggregates see the rows in the subquery's
# order, and `_decode_batch` checks the positions anyway.
_SQLITE_BATCH = (
    "SELECT json_group_array(position), json_group_array(trace_id), "
    "'[' || group_concat(payload, ',') || ']'{paired} FROM ("
    + _ITEMS.format(
        trace_id=_SQLITE_DASHED_ID,
        paired="{columns}",
        join="{join}",
        key="?1",
        start="?2",
        stop="?3",
        split="{split}",
    )
    + " ORDER BY i.position)"
)
_SQLITE_PAIRED = ", json_group_array(json_array(eval_idx, completion))"
_POSTGRES_BATCH = (
    "SELECT json_agg(position ORDER BY position)::text, "
    "json_agg(trace_id ORDER BY position)::text, "
    "'[' || string_agg(payload::text, ',' ORDER BY position) || ']'{paired} FROM ("
    + _ITEMS.format(
        trace_id="t.id::text",
        paired="{columns}",
        join="{join}",
        key="$1",
        start="$2",
        stop="$3",
        split="{split}",
    )
    + ") AS batch"
)
_POSTGRES_PAIRED = ", json_agg(json_build_array(eval_idx, completion) ORDER BY position)::text"


def _batch_sql(dialect: str, split: bool, evaluation: bool) -> str:
    """The batch query; its parameters are the key, start, stop, then the split and the
    evaluation id when they are given."""
    sqlite = dialect == "sqlite"
    mark = "?" if sqlite else "$"
    template = _SQLITE_BATCH if sqlite else _POSTGRES_BATCH
    return template.format(
        paired=(_SQLITE_PAIRED if sqlite else _POSTGRES_PAIRED) if evaluation else "",
        columns=_PAIRED_COLUMNS if evaluation else "",
        join=_PAIRED_JOIN.format(evaluation=f"{mark}{4 + split}") if evaluation else "",
        split=f"AND i.split = {mark}4 " if split else "",
    )


#: A batch as the database returns it: JSON texts of positions, ids, payloads, and the
#: evaluation's wrong items when asked for (None: no rows, or not asked for).
BatchTexts = tuple[str | None, str | None, str | None, str | None]


class Batch(NamedTuple):
    """Consecutive items of a dataset: positions, dashed trace ids, decoded payloads, and
    (when read with an evaluation) each item's wrong evaluation item as `[index, completion]`,
    `[None, None]` for none."""

    positions: list[int]
    trace_ids: list[str]
    payloads: list[dict[str, Any]]
    wrong: list[list[Any]] | None = None


async def export_lines(
    db: AsyncConnection | AsyncEngine,
    key: str,
    fmt: str,
    *,
    split: str | None = None,
    system: str | None = None,
) -> AsyncGenerator[bytes, None]:
    """The dataset's records in `fmt`, as chunks of whole JSON lines (at most `BATCH_ROWS`
    each), read on `db`: a connection, or an engine's connection of the stream's own, held
    while it runs and given back idle when it ends or is closed early. A caller that stops
    early must close it (`contextlib.aclosing`) before it releases a connection it gave:
    closing waits for the read in flight.

    The `preference` export of a dataset built from an evaluation rejects, for each trace the
    evaluation got wrong, the model's completion (read with the batch); every other trace is
    paired with a corrupted copy of itself."""
    render = renderer_for(fmt)
    async with _connection(db) as conn:
        evaluation = None
        if fmt == ExportFormat.PREFERENCE:
            row = (await conn.execute(select(D.c.manifest).where(D.c.key == key))).first()
            evaluation = None if row is None else paired_evaluation(row.manifest)
        batches = item_batches(conn, key, split, evaluation=evaluation)
        async with aclosing(batches):
            async for batch in batches:
                if evaluation is None:
                    yield render_chunk(batch, render, system)
                else:
                    yield render_paired_chunk(batch, str(evaluation), system)


@asynccontextmanager
async def _connection(db: AsyncConnection | AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`db` itself if it is a connection, else a new connection of the engine `db`."""
    if isinstance(db, AsyncConnection):
        yield db
        return
    async with db.connect() as conn:
        yield conn


def render_chunk(batch: Batch, render: Renderer, system: str | None) -> bytes:
    """The JSON lines of one batch, joined."""
    pairs = zip(batch.trace_ids, batch.payloads, strict=True)
    with collector_paused():
        return encode_lines([render(trace_id, payload, system) for trace_id, payload in pairs])


def render_paired_chunk(batch: Batch, evaluation_id: str, system: str | None) -> bytes:
    """The `preference` lines of one batch read with its evaluation's wrong items."""
    assert batch.wrong is not None
    rows = zip(batch.trace_ids, batch.payloads, batch.wrong, strict=True)
    with collector_paused():
        return encode_lines(
            [
                render_preference(
                    trace_id,
                    payload,
                    system,
                    None if index is None else EvaluatedRejection(evaluation_id, index, completion),
                )
                for trace_id, payload, (index, completion) in rows
            ]
        )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one synchronous stretch of work.

    Decoding and rendering a batch allocate tens of thousands of short-lived, acyclic objects
    (freed by reference counting), and each 700 allocations would otherwise trigger a collection
    pass over them, a large share of the decode time (`benchmarks/bench_datasets.py`). Never
    held across an `await`.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def item_batches(
    conn: AsyncConnection,
    key: str,
    split: str | None = None,
    *,
    evaluation: uuid.UUID | None = None,
) -> AsyncGenerator[Batch, None]:
    """The dataset's items (of `split`) in position order, `BATCH_ROWS` positions at a time,
    with `evaluation`'s wrong items when given (`Batch.wrong`). The next batch is being read
    while the caller decodes and renders this one."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    last = select(func.max(I.c.position)).where(I.c.dataset_key == key)
    last_position = (await conn.execute(last)).scalar()
    end = 0 if last_position is None else last_position + 1
    sql = _batch_sql(conn.dialect.name, split is not None, evaluation is not None)
    extra: tuple[Any, ...] = () if split is None else (split,)
    if conn.dialect.name == "sqlite":
        if evaluation is not None:
            extra += (evaluation.hex,)  # how SQLite stores a UUID

        async def fetch(start: int) -> BatchTexts:
            params = (key, start, start + BATCH_ROWS, *extra)
            (row,) = await driver.execute_fetchall(sql, params)
            return row[0], row[1], row[2], row[3] if evaluation is not None else None

    else:  # PostgreSQL, the only other supported database
        if evaluation is not None:
            extra += (evaluation,)

        async def fetch(start: int) -> BatchTexts:
            row = await driver.fetchrow(sql, key, start, start + BATCH_ROWS, *extra)
            return row[0], row[1], row[2], row[3] if evaluation is not None else None

    starts = iter(range(0, end, BATCH_ROWS))
    # Reads queued ahead: aiosqlite runs them one after another on its thread, so with two
    # queued the thread goes on to the next batch while this one is decoded and rendered
    # (with one, it idled until the event loop came back for the result). An asyncpg
    # connection runs one query at a time; the PostgreSQL server reads ahead itself.
    pending: deque[asyncio.Future[BatchTexts]] = deque()
    ahead = READS_AHEAD if conn.dialect.name == "sqlite" else 1
    try:
        for start in islice(starts, ahead):
            pending.append(asyncio.ensure_future(fetch(start)))
        while pending:
            positions_json, ids_json, payloads_json, wrong_json = await pending.popleft()
            following = next(starts, None)
            if following is not None:  # keep the queue full while this batch is decoded
                pending.append(asyncio.ensure_future(fetch(following)))
            await asyncio.sleep(0)
            if positions_json is not None and ids_json is not None and payloads_json is not None:
                positions: list[int] = orjson.loads(positions_json)
                if positions:  # a split may have no item in a range
                    yield _decode_batch(positions, ids_json, payloads_json, wrong_json)
    finally:
        # The caller stopped early: let the reads in flight finish (one batch each) rather than
        # cancel them, so that the connection is idle when it goes back to the pool (a
        # cancelled asyncpg query leaves it busy, and its rollback then fails).
        if pending:
            await asyncio.wait(pending)
        for read in pending:
            if not read.cancelled():
                read.exception()  # retrieved: an error of a read nobody waits for is not logged


def _decode_batch(positions: list[int], ids: str, payloads: str, wrong: str | None = None) -> Batch:
    with collector_paused():
        batch = Batch(
            positions,
            orjson.loads(ids),
            orjson.loads(payloads),
            None if wrong is None else orjson.loads(wrong),
        )
    if any(a >= b for a, b in pairwise(positions)):
        columns = [column for column in batch[1:] if column is not None]
        ranked = sorted(zip(positions, *columns, strict=True), key=itemgetter(0))
        batch = Batch(*(list(column) for column in zip(*ranked, strict=True)))
    return batch


async def record_at(
    conn: AsyncConnection, key: str, fmt: str, position: int
) -> dict[str, Any] | None:
    """Record `position` (0-based, manifest order) of a dataset in `fmt`, or None past its end.
    (A `preference` record here always rejects a corrupted trace; only `export_lines` pairs a
    dataset's evaluation.)"""
    stmt = (
        select(T.c.id, T.c.payload)
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key, I.c.position == position)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else renderer_for(fmt)(str(row.id), row.payload, None)


async def first_records(
    conn: AsyncConnection, key: str, fmt: str, count: int
) -> list[dict[str, Any]]:
    """The first `count` records of a dataset (manifest order) in `fmt`, e.g. for a preview
    (`preference` as `record_at` renders it)."""
    stmt = (
        select(T.c.id, T.c.payload)
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key, I.c.position < count)
        .order_by(I.c.position)
    )
    render = renderer_for(fmt)
    return [render(str(row.id), row.payload, None) for row in await conn.execute(stmt)]


async def canonical_digest(
    conn: AsyncConnection, key: str, each_batch: Callable[[Batch], None] | None = None
) -> tuple[str, list[str]]:
    """sha256 of the canonical export (format `trace`, every split, no system instruction) and
    the dataset's trace ids in manifest order, read in one pass that also shows every batch to
    `each_batch`."""
    digest = hashlib.sha256()
    trace_ids: list[str] = []
    render = renderer_for("trace")
    async with aclosing(item_batches(conn, key)) as batches:
        async for batch in batches:
            digest.update(render_chunk(batch, render, None))
            trace_ids += batch.trace_ids
            if each_batch is not None:
                each_batch(batch)
    return digest.hexdigest(), trace_ids


def export_etag(
    content_sha256: str,
    build_id: str,
    fmt: str,
    split: str | None,
    system: str | None,
    evaluation: str | None = None,
) -> str:
    """A strong ETag: the content hash itself for the canonical export, else a hash of what
    determines the content (the canonical hash, the build, format, split, system text and
    renderer version, and the evaluation a `preference` export pairs with). The build id is
    there because the canonical export does not pin the split assignment: a key deleted and
    built again from the same traces with other splits has the same canonical hash but other
    split exports."""
    if fmt == "trace" and split is None and system is None:
        return f'"{content_sha256}"'
    parts = [content_sha256, build_id, fmt, split or "", system or "", RENDERER_VERSION]
    if evaluation is not None:
        parts.append(evaluation)
    digest = hashlib.sha256(_FIELD_SEPARATOR.join(parts).encode()).hexdigest()
    return f'"{digest}"'
