"""The `tunix_sft` export of a dataset or of chosen traces."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.datasets.export import export_lines
from tunix_rt.datasets.store import require_dataset
from tunix_rt.db.models import traces_table as T
from tunix_rt.errors import BadRequestError, NotFoundError
from tunix_rt.formats import encode_line, renderer_for

#: How many of the given `trace_ids` an SFT export holds when the request sets no limit.
TRACE_IDS_DEFAULT_LIMIT = 100


async def sft_export(
    engine: AsyncEngine,
    *,
    dataset_key: str | None,
    trace_ids: list[uuid.UUID] | None,
    limit: int | None,
) -> AsyncIterator[bytes]:
    """Check the request, then return the stream of `tunix_sft` lines: the first `limit` of the
    dataset (all of it without a limit) or of the traces (`TRACE_IDS_DEFAULT_LIMIT` without)."""
    if dataset_key is None and not trace_ids:
        raise BadRequestError("give dataset_key or trace_ids")
    if dataset_key is not None:
        async with engine.connect() as conn:
            await require_dataset(conn, dataset_key)
        stream = export_lines(engine, dataset_key, "tunix_sft")
        return stream if limit is None else _limited(stream, limit)
    assert trace_ids is not None
    wanted = list(dict.fromkeys(trace_ids))[: limit or TRACE_IDS_DEFAULT_LIMIT]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(T.c.id, T.c.payload).where(T.c.id.in_(wanted)))).all()
    found = {row.id: row.payload for row in rows}
    missing = [str(trace_id) for trace_id in wanted if trace_id not in found]
    if missing:
        raise NotFoundError(f"trace(s) not found: {', '.join(missing[:10])}")
    render = renderer_for("tunix_sft")

    async def lines() -> AsyncIterator[bytes]:
        yield b"".join(encode_line(render(str(i), found[i], None)) for i in wanted)

    return lines()


async def _limited(chunks: AsyncGenerator[bytes, None], limit: int) -> AsyncIterator[bytes]:
    """The first `limit` lines of a stream of whole-line chunks (closed once they are read)."""
    left = limit
    async with aclosing(chunks):
        async for chunk in chunks:
            lines = chunk.splitlines(keepends=True)
            if len(lines) >= left:
                yield b"".join(lines[:left])
                return
            left -= len(lines)
            yield chunk
