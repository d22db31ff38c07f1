"""Generated traces into the store or into a JSON Lines file, streamed in chunks.

The API calls `generate_traces`; the CLI checks its arguments with `generate(...)` (before it
opens a database or a file) and hands the lazy traces to `store_traces` or `write_traces`.
Nothing materialises a whole request: traces are made, turned into rows and inserted
`CHUNK_SIZE` at a time, all inside one transaction (so a failure stores nothing). Making the
traces is CPU work, so `store_traces` does it in a worker thread, a chunk at a time, and the
event loop stays free to serve other requests.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from tunix_rt.generators import DEFAULT_SEED, generate
from tunix_rt.traces.lines import trace_line
from tunix_rt.traces.schema import ReasoningTrace

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# The database modules are imported where traces are stored, so writing a file loads none.

CHUNK_SIZE = 2000
"""Traces made, converted and inserted per step."""

PREVIEW_COUNT = 3
"""Traces a generation request returns in full, whether or not it stores them."""


def _chunks(traces: Iterator[ReasoningTrace], size: int) -> Iterator[list[ReasoningTrace]]:
    while chunk := list(itertools.islice(traces, size)):
        yield chunk


def _next_rows(
    traces: Iterator[ReasoningTrace], created_at: datetime, size: int
) -> list[dict[str, Any]]:
    from tunix_rt.traces.rows import trace_row

    return [trace_row(trace, created_at=created_at) for trace in itertools.islice(traces, size)]


@dataclass(frozen=True)
class Generated:
    """What one generation request produced."""

    trace_ids: list[uuid.UUID]
    """Ids of the stored traces in generation order; empty when nothing was stored."""
    preview: list[ReasoningTrace]
    """The first `PREVIEW_COUNT` traces."""


async def generate_traces(
    engine: AsyncEngine,
    name: str,
    count: int,
    seed: int = DEFAULT_SEED,
    *,
    params: Mapping[str, object] | None = None,
    persist: bool = True,
) -> Generated:
    """Generate `count` traces with generator `name`, store them unless `persist` is false, and
    return their ids with a preview of the first ones.

    Everything is checked once, before anything is generated or stored: `UnknownGeneratorError`
    for the name; `GeneratorError` for a bad parameter (`loc` `("params",)`) or seeds that
    overlap the range reserved for eval sets (`loc` `("seed",)`). The traces are generated
    once: the preview is the head of the stored stream.
    """
    traces = generate(name, count, seed, **(params or {}))
    preview = list(itertools.islice(traces, PREVIEW_COUNT))
    trace_ids = await store_traces(engine, itertools.chain(preview, traces)) if persist else []
    return Generated(trace_ids=trace_ids, preview=preview)


async def store_traces(
    engine: AsyncEngine,
    traces: Iterator[ReasoningTrace],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> list[uuid.UUID]:
    """Store already-checked generated traces (from `generate(...)`); returns their ids.

    All traces share one `created_at`; their insertion order (`seq`) is the generation order,
    so exports list them in the order they were generated. One transaction: all or nothing.
    `on_progress(stored_so_far)` is called after each chunk.
    """
    from tunix_rt.clock import utc_now
    from tunix_rt.db.bulk import insert_trace_rows

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


def write_traces(
    out: IO[bytes],
    traces: Iterator[ReasoningTrace],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Write already-checked generated traces (from `generate(...)`) to `out` as JSON Lines;
    returns how many. `on_progress(written_so_far)` is called after each chunk."""
    written = 0
    for chunk in _chunks(traces, CHUNK_SIZE):
        out.write(b"".join(encode_trace_line(trace) for trace in chunk))
        written += len(chunk)
        if on_progress:
            on_progress(written)
    return written
