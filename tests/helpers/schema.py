"""A database's schema as plain data (what reflection sees), and stepping through the migrations
with Alembic's command API, as `tunix_rt.db.migrate` runs them."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.migrate import MIGRATIONS_DIR


def _sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=repr)


def _schema(conn: Connection) -> dict[str, Any]:
    """Reflected with the inspector's `get_multi_*` calls: a few queries for all the tables."""
    inspector = inspect(conn)
    columns = inspector.get_multi_columns()
    primary_keys = inspector.get_multi_pk_constraint()
    foreign_keys = inspector.get_multi_foreign_keys()
    indexes = inspector.get_multi_indexes()
    uniques = inspector.get_multi_unique_constraints()
    checks = inspector.get_multi_check_constraints()
    tables: dict[str, Any] = {}
    for key in sorted(columns, key=lambda key: key[1]):
        tables[key[1]] = {
            "columns": [  # in table order
                {
                    "name": column["name"],
                    "type": column["type"].compile(dialect=conn.dialect),
                    "nullable": column["nullable"],
                    "default": column.get("default"),
                }
                for column in columns[key]
            ],
            "primary_key": primary_keys[key]["constrained_columns"],
            "foreign_keys": _sorted(
                [
                    {
                        "name": fk["name"],
                        "columns": fk["constrained_columns"],
                        "referred": (fk["referred_table"], fk["referred_columns"]),
                        "options": fk.get("options", {}),
                    }
                    for fk in foreign_keys[key]
                ]
            ),
            "indexes": _sorted(
                [
                    {"name": ix["name"], "columns": ix["column_names"], "unique": ix["unique"]}
                    for ix in indexes[key]
                ]
            ),
            "unique": _sorted(
                [{"name": uq["name"], "columns": uq["column_names"]} for uq in uniques[key]]
            ),
            "checks": _sorted([{"name": ck["name"], "sql": ck["sqltext"]} for ck in checks[key]]),
        }
    return tables


async def schema_of(engine: AsyncEngine) -> dict[str, Any]:
    """Every table with its columns (name, type, nullability, server default, in order), primary
    key, foreign keys, indexes, unique and check constraints."""
    async with engine.connect() as conn:
        return await conn.run_sync(_schema)


async def version_rows(engine: AsyncEngine) -> list[str]:
    """The rows of `alembic_version`."""
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
        return [str(row[0]) for row in rows]


def _downgrade(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.downgrade(config, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database down to `revision` (`-1`: one step; `base`: before the first)."""
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)
