"""Reading a run's log: the last lines, or a live stream until the run ends."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.runs import store
from tunix_rt.runs.paths import LOG_FILE
from tunix_rt.runs.schema import FINISHED

FOLLOW_POLL_SECONDS = 0.5
TAIL_BLOCK_BYTES = 64 * 1024
TAIL_MAX_BYTES = 8 * 1024 * 1024

__all__ = ["LOG_FILE", "follow", "tail"]


def tail(path: Path, lines: int, *, block_size: int = TAIL_BLOCK_BYTES) -> str:
    """The last `lines` lines of the file ("" when it does not exist yet).

    Reads backwards from the end in blocks until it holds the lines, so a long log costs only
    its tail; past TAIL_MAX_BYTES it stops and the oldest line it returns may be cut."""
    return _tail(path, lines, block_size)[0]


def _tail(path: Path, lines: int, block_size: int) -> tuple[str, int]:
    """`tail`, and the size of the file it read the tail of (0 when there is none)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return "", 0
    with handle:
        end = position = handle.seek(0, os.SEEK_END)
        if lines < 1:
            return "", end
        blocks: deque[bytes] = deque()
        newlines = read = 0
        # One newline more than the lines asked for: the one before the first line kept.
        while position > 0 and newlines <= lines and read < TAIL_MAX_BYTES:
            size = min(block_size, position)
            position -= size
            handle.seek(position)
            block = handle.read(size)
            blocks.appendleft(block)
            newlines += block.count(b"\n")
            read += size
    data = b"".join(blocks)
    if not data:
        return "", end
    pieces = data.split(b"\n")
    ended = pieces[-1] == b""
    kept = pieces[-lines - 1 : -1] if ended else pieces[-lines:]
    return (b"\n".join(kept) + (b"\n" if ended else b"")).decode(errors="replace"), end


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
    # The tail and where it ends from one read: a line written in between is neither lost
    # nor sent twice.
    first, offset = await asyncio.to_thread(_tail, path, lines, TAIL_BLOCK_BYTES)
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
