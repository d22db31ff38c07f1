"""Trace export: JSONL that `traces import` reads back, streamed in constant memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.models import traces_table
from tunix_rt.formats import encode_lines, renderer_for
from tunix_rt.traces.lines import trace_line
from tunix_rt.traces.store import TraceFilters, stream_traces

_LINES_PER_CHUNK = 500


async def count_matching(engine: AsyncEngine, filters: TraceFilters) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(traces_table).where(*filters.conditions())
        return int((await conn.execute(stmt)).scalar_one())


async def export_traces(
    engine: AsyncEngine,
    out: IO[bytes],
    *,
    filters: TraceFilters = TraceFilters(),
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write `{id, created_at, trace_version, prompt, steps, final_answer, meta}` lines
    (`trace_line`)."""
    written = 0
    async with engine.connect() as conn:
        async for trace_id, created_at, payload in stream_traces(conn, filters=filters):
            line = {"id": str(trace_id), "created_at": created_at.isoformat(), **payload}
            out.write(trace_line(line))
            written += 1
            if on_progress and written % 5000 == 0:
                on_progress(written)
    if on_progress:
        on_progress(written)
    return written


async def trace_record_lines(
    engine: AsyncEngine, filters: TraceFilters, limit: int
) -> AsyncIterator[bytes]:
    """The matching traces, oldest first, at most `limit`, as `trace`-format JSON Lines
    (`{id, prompts, trace_steps, final_answer, metadata}`), yielded a few hundred lines at a
    time for a streamed response."""
    render = renderer_for("trace")
    records: list[dict[str, Any]] = []
    async with engine.connect() as conn:
        async for trace_id, _created_at, payload in stream_traces(
            conn, filters=filters, limit=limit
        ):
            records.append(render(str(trace_id), payload, None))
            if len(records) >= _LINES_PER_CHUNK:
                yield encode_lines(records)
                records = []
    if records:
        yield encode_lines(records)
