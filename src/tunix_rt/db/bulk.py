"""Bulk trace inserts: the hot path of imports and batch posts.

On SQLite the rows go to the driver as ready-made tuples in one `executemany`, skipping the
per-value Python of SQLAlchemy's type processors; the values are formatted exactly as those
processors would (tests read them back through SQLAlchemy). On PostgreSQL they go through
asyncpg's binary COPY, on the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_COLUMNS = (
    "id",
    "created_at",
    "trace_version",
    "source",
    "prompt",
    "final_answer",
    "step_count",
    "char_count",
    "payload",
    "rank_key",
)
# One statement per chunk: the rows travel as one JSON array that SQLite unpacks itself, so the
# whole insert runs in C without the GIL and overlaps with Python preparing the next chunk.
_SQLITE_INSERT = (
    f"INSERT INTO traces ({', '.join(_COLUMNS)}) SELECT "
    + ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(_COLUMNS)))
    + " FROM json_each(?)"
)
_COPY_KEYS = tuple("payload_json" if name == "payload" else name for name in _COLUMNS)
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's SQLite DATETIME storage format


def _sqlite_values(row: dict[str, Any], stamp: str) -> tuple[Any, ...]:
    return (
        row["id"].hex,
        stamp,
        row["trace_version"],
        row["source"],
        row["prompt"],
        row["final_answer"],
        row["step_count"],
        row["char_count"],
        row["payload_json"],
        row["rank_key"],
    )


async def insert_trace_rows(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert prepared trace rows on the caller's transaction."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        stamps: dict[datetime, str] = {}  # rows of one batch share their timestamp
        values = []
        for row in rows:
            at = row["created_at"]
            stamp = stamps.get(at)
            if stamp is None:
                stamp = stamps[at] = at.astimezone(UTC).strftime(_SQLITE_DATETIME)
            values.append(_sqlite_values(row, stamp))
        await driver.execute(_SQLITE_INSERT, (orjson.dumps(values),))
    else:  # PostgreSQL, the only other supported database
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy opens asyncpg's transaction lazily, at its first statement; without
            # this the COPY would commit on its own, outside the caller's transaction.
            await conn.execute(text("SELECT 1"))
            assert driver.is_in_transaction()
        records = [tuple(row[name] for name in _COPY_KEYS) for row in rows]
        await driver.copy_records_to_table("traces", records=records, columns=list(_COLUMNS))
