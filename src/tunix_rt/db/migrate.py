"""Apply the Alembic migrations shipped inside the package.

Alembic is imported only when a migration runs: a command on an up-to-date database checks
the `alembic_version` row against `HEAD_REVISION` and starts faster.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.engine import create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: The newest revision in `migrations/versions` (a test checks it against Alembic's head).
HEAD_REVISION = "0009"
_LOCK_KEY = 0x7475_6E69  # "tuni": PostgreSQL advisory lock around migrations


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of the package, as Alembic sees it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision` (default: the newest).

    Upgrades that start together (servers, commands) migrate one at a time, each in one
    transaction: the next finds the work done. PostgreSQL: an advisory lock held until the
    commit. SQLite: its write lock, taken before anything is read (`BEGIN IMMEDIATE`; the
    driver would otherwise run each DDL statement on its own, outside any transaction).
    """
    from alembic import command

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))


async def ensure_schema(engine: AsyncEngine) -> None:
    """Apply pending migrations, if any (one cheap query when there are none)."""
    if await current_revision(engine) != HEAD_REVISION:
        await upgrade(engine)


async def reset_postgres(url: str) -> None:
    """Drop and recreate PostgreSQL's `public` schema at `url`, so that the next migration
    starts from nothing (the test suite and the load benchmark start every server this way)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError:  # no alembic_version table yet
            return None
    return None if row is None else str(row[0])
