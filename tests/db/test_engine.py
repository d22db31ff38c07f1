"""`sqlite_foreign_keys_off`: checks are off inside the block only, and back on however it ends."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tunix_rt.db.engine import create_engine, sqlite_foreign_keys_off


async def _checks_on(conn: AsyncConnection) -> bool:
    return bool((await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar())


async def test_checks_are_off_in_the_block_and_on_after_it(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            async with sqlite_foreign_keys_off(conn), conn.begin():
                assert not await _checks_on(conn)
            assert await _checks_on(conn)
            await conn.rollback()
            with pytest.raises(RuntimeError):
                async with sqlite_foreign_keys_off(conn), conn.begin():
                    assert not await _checks_on(conn)
                    raise RuntimeError("the block failed")
            assert await _checks_on(conn)
    finally:
        await engine.dispose()
