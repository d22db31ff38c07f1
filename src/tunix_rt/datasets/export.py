"""Streaming dataset exports: one record per line, manifest order, constant memory."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, cast, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import traces_table as T
from tunix_rt.formats import encode_line, renderer_for

#: Bumped whenever a renderer's output changes, so ETags of non-canonical exports change too.
RENDERER_VERSION = "1"
CHUNK_BYTES = 256 * 1024
ROWS_PER_FETCH = 2000


async def export_lines(
    conn: AsyncConnection,
    key: str,
    fmt: str,
    *,
    split: str | None = None,
    system: str | None = None,
) -> AsyncIterator[bytes]:
    """The dataset's records in `fmt`, as chunks of whole JSON lines (about 256 KiB each)."""
    render = renderer_for(fmt)
    sqlite = conn.dialect.name == "sqlite"
    # The driver's own values, without SQLAlchemy's per-value processors: on SQLite the id's
    # hex digits and the payload's JSON text; asyncpg already gives a dashed id and a dict.
    decode: Callable[[Any], dict[str, Any]] = orjson.loads if sqlite else _as_is
    stmt = (
        select(_id_text(conn.dialect.name), type_coerce(T.c.payload, String))
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key)
        .order_by(I.c.position)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )
    if split is not None:
        stmt = stmt.where(I.c.split == split)
    result = await conn.stream(stmt)
    buffer: list[bytes] = []
    size = 0
    async for rows in result.partitions(ROWS_PER_FETCH):
        for trace_id, payload in rows:
            line = encode_line(render(dashed(trace_id), decode(payload), system))
            buffer.append(line)
            size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def _as_is(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _id_text(dialect: str) -> ColumnElement[str]:
    """The trace id as text: 32 hex digits on SQLite (its storage), dashed on PostgreSQL."""
    if dialect == "postgresql":
        return cast(T.c.id, String)
    return type_coerce(T.c.id, String)


def dashed(trace_id: str) -> str:
    """`8-4-4-4-12` form of an id given with or without dashes."""
    if len(trace_id) == 36:
        return trace_id
    h = trace_id
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


async def record_at(
    conn: AsyncConnection, key: str, fmt: str, position: int
) -> dict[str, Any] | None:
    """Record `position` (0-based, manifest order) of a dataset in `fmt`, or None past its end."""
    stmt = (
        select(T.c.id, T.c.payload)
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key, I.c.position == position)
    )
    row = (await conn.execute(stmt)).first()
    return None if row is None else renderer_for(fmt)(str(row.id), row.payload, None)


async def export_sha256(conn: AsyncConnection, key: str) -> str:
    """sha256 of the canonical export: format `trace`, every split, no system instruction."""
    digest = hashlib.sha256()
    async for chunk in export_lines(conn, key, "trace"):
        digest.update(chunk)
    return digest.hexdigest()


def export_etag(content_sha256: str, fmt: str, split: str | None, system: str | None) -> str:
    """A strong ETag: the content hash itself for the canonical export, else a hash of what
    determines the content (the canonical hash, format, split, system text, renderer version)."""
    if fmt == "trace" and split is None and system is None:
        return f'"{content_sha256}"'
    parts = "\x1f".join([content_sha256, fmt, split or "", system or "", RENDERER_VERSION])
    return f'"{hashlib.sha256(parts.encode()).hexdigest()}"'
