"""What the dashboard reports: the counts in one query, the database's kind and health."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt import system
from tunix_rt.traces import store
from tunix_rt.traces.schema import ReasoningTrace


async def test_counts_follow_the_rows(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await system.counts(conn) == system.Counts(
            traces=0, datasets=0, runs=0, evaluations=0
        )
    for n in range(3):
        await store.create_trace(engine, ReasoningTrace.model_validate(make_trace(prompt=f"{n}")))
    async with engine.connect() as conn:
        assert (await system.counts(conn)).traces == 3


async def test_database_status_names_the_kind(engine: AsyncEngine) -> None:
    status = await system.database_status(engine)
    expected = "SQLite" if engine.dialect.name == "sqlite" else "PostgreSQL"
    assert status == system.DatabaseStatus(kind=expected, healthy=True)


async def test_an_unreachable_database_is_reported_not_raised(tmp_path: object) -> None:
    from tunix_rt.db.engine import create_engine

    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        status = await system.database_status(engine)
    finally:
        await engine.dispose()
    assert status.kind == "PostgreSQL" and not status.healthy
    assert status.reason and "\n" not in status.reason
