"""Generated traces into the store or into a JSON Lines file, streamed in chunks.

Both the API and the CLI call these; neither materialises a whole request: traces are made,
turned into rows and inserted `CHUNK_SIZE` at a time, all inside one transaction (so a
failure stores nothing). Making the traces is CPU work, so `generate_and_store` does it in a
worker thread, a chunk at a time, and the event loop stays free to serve other requests.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from tunix_rt.generators import DEFAULT_SEED, get_generator
from tunix_rt.traces.lines import trace_line
from tunix_rt.traces.schema import ReasoningTrace

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# The database modules are imported where traces are stored, so writing a file loads none.

CHUNK_SIZE = 2000
"""Traces made, converted and inserted per step."""


def _chunks(traces: Iterator[ReasoningTrace], size: int) -> Iterator[list[ReasoningTrace]]:
    while chunk := list(itertools.islice(traces, size)):
        yield chunk


def _next_rows(
    traces: Iterator[ReasoningTrace], created_at: datetime, size: int
) -> list[dict[str, Any]]:
    from tunix_rt.traces.rows import trace_row

    return [trace_row(trace, created_at=created_at) for trace in itertools.islice(traces, size)]


async def generate_and_store(
    engine: AsyncEngine,
    name: str,
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    params: Mapping[str, object] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[uuid.UUID]:
    """Generate `count` traces with generator `name` (and its `params`) and store them; returns
    their ids in generation order.

    Arguments are checked before anything is stored (`GeneratorError`, `UnknownGeneratorError`).
    All traces share one `created_at`; their insertion order (`seq`) is the generation order,
    so exports list them in the order they were generated. One transaction: all or nothing.
    `on_progress(stored_so_far)` is called after each chunk.
    """
    from tunix_rt.clock import utc_now
    from tunix_rt.db.bulk import insert_trace_rows

    traces = get_generator(name).generate(count, seed, **(params or {}))
    created_at = utc_now()
    ids: list[uuid.UUID] = []
    async with engine.begin() as conn:
        while rows := await asyncio.to_thread(_next_rows, traces, created_at, CHUNK_SIZE):
            await insert_trace_rows(conn, rows)
            ids.extend(row["id"] for row in rows)
            if on_progress:
                on_progress(len(ids))
    return ids


def encode_trace_line(trace: ReasoningTrace) -> bytes:
    """One JSON Lines line that `tunix-rt traces import` reads: the payload, keys sorted."""
    return trace_line(trace.model_dump(mode="json"))


def write_generated(
    out: IO[bytes],
    name: str,
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    params: Mapping[str, object] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write `count` generated traces to `out` as JSON Lines (nothing stored); returns count.

    The same arguments always give the same bytes.
    """
    traces = get_generator(name).generate(count, seed, **(params or {}))
    written = 0
    for chunk in _chunks(traces, CHUNK_SIZE):
        out.write(b"".join(encode_trace_line(trace) for trace in chunk))
        written += len(chunk)
        if on_progress:
            on_progress(written)
    return written
