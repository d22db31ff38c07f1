"""Migrations: applied from scratch, idempotent; 0002 and 0004 backfill older rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.engine import create_engine
from tunix_rt.db.functions import rank_key_of
from tunix_rt.db.migrate import (
    HEAD_REVISION,
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
    finds nothing to add, drop or alter (columns, types, nullability, indexes, keys)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tunix_rt.db.models import metadata

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                )
            )
    finally:
        await engine.dispose()
    assert differences == []
