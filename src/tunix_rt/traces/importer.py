"""JSONL import: one trace per line, validated, stored in one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.clock import utc_now
from tunix_rt.db.bulk import insert_trace_rows
from tunix_rt.db.models import traces_table
from tunix_rt.errors import describe_validation_error
from tunix_rt.nul_text import ESCAPED_NUL, MESSAGE, NUL, find_nul
from tunix_rt.traces.rows import trace_row
from tunix_rt.traces.schema import trace_import_adapter

CHUNK_LINES = 2000


@dataclass
class LineError:
    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did. When `committed` is false, nothing was stored."""

    stored: int = 0
    errors: list[LineError] = field(default_factory=list)
    committed: bool = False
    #: The stored traces' ids in file order, when the import was asked to keep them.
    ids: list[uuid.UUID] = field(default_factory=list)


async def import_lines(
    engine: AsyncEngine,
    lines: Iterable[bytes],
    *,
    skip_invalid: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    keep_ids: bool = False,
) -> ImportReport:
    """Validate and store every line of a JSONL stream, atomically.

    By default a single bad line stores nothing (every bad line is still reported); with
    `skip_invalid` the good lines are stored. Either way the import is one transaction, so an
    interrupted import leaves the database as it was. `on_progress(lines_read, bytes_read)` is
    called after each chunk. With `keep_ids` the report lists the stored traces' ids (a large
    import is better without: they stay in memory until it ends).
    """
    report = ImportReport()
    seen_ids: set[object] = set()
    lines_read = bytes_read = 0
    async with engine.connect() as conn:
        await conn.begin()
        # The database stores chunk N (in the driver's thread) while chunk N+1 is validated.
        pending: asyncio.Task[None] | None = None
        chunk: list[tuple[int, bytes]] = []
        for raw in lines:
            lines_read += 1
            bytes_read += len(raw)
            if raw.strip():
                chunk.append((lines_read, raw))
            if len(chunk) >= CHUNK_LINES:
                pending = await _import_chunk(
                    conn, chunk, report, seen_ids, skip_invalid, pending, keep_ids
                )
                chunk = []
                if on_progress:
                    on_progress(lines_read, bytes_read)
        pending = await _import_chunk(
            conn, chunk, report, seen_ids, skip_invalid, pending, keep_ids
        )
        if pending is not None:
            await pending
        if on_progress:
            on_progress(lines_read, bytes_read)
        if report.errors and not skip_invalid:
            await conn.rollback()
            report.stored = 0
            report.ids = []
        else:
            await conn.commit()
            report.committed = True
    return report


async def _import_chunk(
    conn: AsyncConnection,
    chunk: list[tuple[int, bytes]],
    report: ImportReport,
    seen_ids: set[object],
    skip_invalid: bool,
    pending: asyncio.Task[None] | None,
    keep_ids: bool,
) -> asyncio.Task[None] | None:
    """Validate a chunk, wait for the previous chunk's insert, start this one's."""
    rows, explicit_ids = _validate_chunk(chunk, report, seen_ids)
    if pending is not None:
        await pending  # the connection is free again
    if explicit_ids:
        rows = await _drop_existing_ids(conn, rows, explicit_ids, report)
    if report.errors and not skip_invalid:
        return None  # the import will be rolled back; keep validating to report every bad line
    report.stored += len(rows)
    if keep_ids:
        report.ids.extend(cast(uuid.UUID, row["id"]) for _, row in rows)
    inserting = asyncio.create_task(  # noqa: RUF006 - returned; the caller awaits it
        insert_trace_rows(conn, [row for _, row in rows])
    )
    await asyncio.sleep(0)  # let it hand the rows to the driver before the next chunk
    return inserting


def _validate_chunk(
    chunk: list[tuple[int, bytes]],
    report: ImportReport,
    seen_ids: set[object],
) -> tuple[list[tuple[int, dict[str, object]]], list[object]]:
    """`(line, row)` of the chunk's valid lines and the ids they give; bad lines go to
    `report.errors`."""
    now = utc_now()  # a chunk is stored at one instant; `seq` keeps the file order
    rows: list[tuple[int, dict[str, object]]] = []
    explicit_ids: list[object] = []
    for line_no, raw in chunk:
        try:
            item = trace_import_adapter.validate_json(raw)
        except ValidationError as exc:
            report.errors.append(LineError(line_no, describe_validation_error(exc)))
            continue
        if ESCAPED_NUL in raw and (loc := find_nul(item.model_dump(mode="json"))) is not None:
            where = ".".join(str(part) for part in loc).replace(NUL, "\\u0000")  # printable
            report.errors.append(LineError(line_no, f"{where}: {MESSAGE}"))
            continue
        if item.id is not None:
            if item.id in seen_ids:
                report.errors.append(LineError(line_no, f"id {item.id} repeats an earlier line"))
                continue
            seen_ids.add(item.id)
            explicit_ids.append(item.id)
        created_at = item.created_at or now
        rows.append((line_no, trace_row(item, trace_id=item.id, created_at=created_at)))
    return rows, explicit_ids


async def _drop_existing_ids(
    conn: AsyncConnection,
    rows: list[tuple[int, dict[str, object]]],
    given: list[object],
    report: ImportReport,
) -> list[tuple[int, dict[str, object]]]:
    """Report (and leave out) lines whose explicit id is already stored."""
    existing = set(
        (await conn.execute(select(traces_table.c.id).where(traces_table.c.id.in_(given))))
        .scalars()
        .all()
    )
    if not existing:
        return rows
    kept = []
    for line_no, row in rows:
        if row["id"] in existing:
            report.errors.append(LineError(line_no, f"id {row['id']} is already stored"))
        else:
            kept.append((line_no, row))
    return kept
