"""Async engine construction: SQLite (WAL) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tunix_rt.db.functions import register_sqlite_functions

#: aiosqlite runs every statement on a worker thread, which needs the GIL for a moment before
#: and after each statement. With CPython's default 5 ms switch interval, Python work on the
#: event loop (rendering an export, validating an import) keeps that thread waiting for up to
#: 5 ms each time, and reads stop overlapping with it; at 1 ms they overlap. A SQLite engine
#: lowers the interpreter's interval to this (it never raises it).
SQLITE_SWITCH_INTERVAL = 0.001


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for PostgreSQL and in-memory databases."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(url: str, *, pool_size: int = 8) -> AsyncEngine:
    """An engine with the project's JSON codec and, for SQLite, WAL and foreign keys on."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    kwargs["pool_size"] = pool_size
    kwargs["max_overflow"] = pool_size
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        sys.setswitchinterval(min(sys.getswitchinterval(), SQLITE_SWITCH_INTERVAL))
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


@asynccontextmanager
async def sqlite_foreign_keys_off(conn: AsyncConnection) -> AsyncIterator[None]:
    """SQLite: no foreign key checks on `conn` inside the block (entered before its transaction
    begins: SQLite ignores the pragma inside one); other databases: nothing changes.

    For inserts whose references hold by construction, such as dataset items selected from the
    traces table in the same write transaction: checking each would be a random lookup in the
    traces table per row (three quarters of the time of inserting a dataset's items). Checks are
    back on when the block ends; a connection that cannot turn them back on is discarded.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    await driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        try:
            await driver.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            await conn.invalidate()
            raise
