"""Migrations: applied from scratch, idempotent, reversible step by step; 0002 and 0004 backfill
older rows; they build what the code declares; upgrades started together apply once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import reset_postgres
from helpers.schema import downgrade, schema_of, version_rows
from helpers.server import cli_env
from tunix_rt.db.engine import create_engine, sqlite_path
from tunix_rt.db.functions import rank_key_of
from tunix_rt.db.migrate import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    current_revision,
    ensure_schema,
    head_revision,
    upgrade,
)
from tunix_rt.db.models import traces_table as T


async def test_upgrade_from_scratch_is_idempotent(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) is None
        assert head_revision() == HEAD_REVISION
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        await upgrade(engine)
        await ensure_schema(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_0002_backfills_final_answer_and_char_count(database_url: str) -> None:
    engine: AsyncEngine = create_engine(database_url)
    try:
        await upgrade(engine, "0001")
        payload = {
            "trace_version": "1",
            "prompt": "prömpt",
            "steps": [
                {"i": 0, "type": "r", "content": "abc"},
                {"i": 1, "type": "r", "content": "de"},
            ],
            "final_answer": "42",
            "meta": None,
        }
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO traces (id, created_at, trace_version, source, prompt, step_count,"
                    " payload) VALUES (:id, :at, '1', NULL, :prompt, 2, :payload)"
                ).bindparams(),
                {
                    "id": uuid.uuid4().hex if conn.dialect.name == "sqlite" else uuid.uuid4(),
                    "at": datetime(2024, 1, 1, tzinfo=UTC)
                    if conn.dialect.name != "sqlite"
                    else "2024-01-01 00:00:00.000000",
                    "prompt": "prömpt",
                    "payload": orjson.dumps(payload).decode(),
                },
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            row = (await conn.execute(select(T.c.final_answer, T.c.char_count))).one()
        assert row.final_answer == "42"
        assert row.char_count == len("prömpt") + 3 + 2 + 2
    finally:
        await engine.dispose()


async def test_0004_backfills_the_rank_key(database_url: str) -> None:
    engine: AsyncEngine = create_engine(database_url)
    trace_id = uuid.UUID("00000000-0000-0000-0000-000000000001")
    try:
        await upgrade(engine, "0003")
        async with engine.begin() as conn:
            sqlite = conn.dialect.name == "sqlite"
            await conn.execute(
                text(
                    "INSERT INTO traces (id, created_at, trace_version, source, prompt, step_count,"
                    " payload, final_answer, char_count)"
                    " VALUES (:id, :at, '1', NULL, 'p', 0, '{}', 'a', 2)"
                ),
                {
                    "id": trace_id.hex if sqlite else trace_id,
                    "at": "2024-01-01 00:00:00.000000"
                    if sqlite
                    else datetime(2024, 1, 1, tzinfo=UTC),
                },
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(select(T.c.rank_key))).scalar_one() == rank_key_of(trace_id)
    finally:
        await engine.dispose()


async def test_the_migrations_build_exactly_the_tables_the_code_declares(database_url: str) -> None:
    """Alembic's autogenerate comparison of the migrated database with `db.models.metadata`
    finds nothing to add, drop or alter (columns, types, nullability, server defaults, indexes,
    keys)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tunix_rt.db.models import metadata

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync, opts={"compare_type": True, "compare_server_default": True}
                    ),
                    metadata,
                )
            )
    finally:
        await engine.dispose()
    assert differences == []


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


async def test_every_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    """Up from scratch one revision at a time, then down to the base and up to the head again one
    step at a time: each downgrade leaves the schema the revision below it built, and each
    upgrade after them builds its revision's schema again."""
    revisions = _revisions()
    assert revisions[-1] == HEAD_REVISION
    engine = create_engine(database_url)
    try:
        built: dict[str, dict[str, Any]] = {}
        for revision in revisions:
            await upgrade(engine, revision)
            built[revision] = await schema_of(engine)
        for below, revision in reversed(list(zip([None, *revisions[:-1]], revisions, strict=True))):
            await downgrade(engine, "-1")
            assert await current_revision(engine) == below, revision
            if below is not None:
                assert await schema_of(engine) == built[below], f"down from {revision}"
        assert list(await schema_of(engine)) == ["alembic_version"]
        assert await version_rows(engine) == []
        for revision in revisions:
            await upgrade(engine, "+1")
            assert await current_revision(engine) == revision
            assert await schema_of(engine) == built[revision], f"up to {revision} again"
    finally:
        await engine.dispose()


async def _upgraded_schema(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        return await schema_of(engine)
    finally:
        await engine.dispose()


async def _state(url: str) -> tuple[dict[str, Any], list[str]]:
    engine = create_engine(url)
    try:
        return await schema_of(engine), await version_rows(engine)
    finally:
        await engine.dispose()


def _empty(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        asyncio.run(reset_postgres(url))
        return
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


def test_two_upgrades_started_together_leave_one_schema(database_url: str) -> None:
    """Two `tunix-rt db upgrade` processes started at once on an empty database both succeed,
    and leave the schema one upgrade builds, at the head, with one version row."""
    single = asyncio.run(_upgraded_schema(database_url))
    _empty(database_url)
    env = cli_env(database_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tunix_rt", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outcomes = [process.communicate(timeout=120) for process in processes]
    for process, (_, stderr) in zip(processes, outcomes, strict=True):
        assert process.returncode == 0, stderr.decode()[-3000:]
        assert stderr.decode().endswith("database is up to date\n")
    schema, versions = asyncio.run(_state(database_url))
    assert versions == [HEAD_REVISION]
    assert schema == single
