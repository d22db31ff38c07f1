"""Reading a run's log: the last lines, or a live stream until the run ends."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.runs import store
from tunix_rt.runs.paths import LOG_FILE
from tunix_rt.runs.schema import FINISHED

FOLLOW_POLL_SECONDS = 0.5

__all__ = ["LOG_FILE", "follow", "tail"]


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of the file ("" when it does not exist yet)."""
    if not path.exists():
        return ""
    with path.open("rb") as handle:
        last = deque(handle, maxlen=lines)
    return b"".join(last).decode(errors="replace")


def _read_from(path: Path, offset: int) -> bytes:
    if not path.exists():
        return b""
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read()


async def follow(
    engine: AsyncEngine, run_id: uuid.UUID, path: Path, lines: int
) -> AsyncIterator[bytes]:
    """The last `lines` lines, then whatever is appended, until the run has finished."""
    first = await asyncio.to_thread(tail, path, lines)
    offset = await asyncio.to_thread(lambda: path.stat().st_size if path.exists() else 0)
    if first:
        yield first.encode()
    while True:
        async with engine.connect() as conn:
            finished = (await store.get_run(conn, run_id)).status in FINISHED
        chunk = await asyncio.to_thread(_read_from, path, offset)
        if chunk:
            offset += len(chunk)
            yield chunk
        if finished:
            return
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
