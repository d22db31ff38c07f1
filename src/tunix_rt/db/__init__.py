"""Database: engine, tables and migrations (SQLite by default, PostgreSQL through asyncpg).

Its modules (each imported by name):

- `engine`: `create_engine(url)`, SQLite in WAL mode or PostgreSQL
- `models`: the tables (schema changes go through `migrations`)
- `types`: column types that behave the same on both databases
- `functions`: seeded pseudo-random orders computed the same by both databases
- `bulk`: bulk trace inserts, the hot path of imports
- `migrate`: applying the Alembic migrations shipped in `migrations`
"""

__all__ = ["bulk", "engine", "functions", "migrate", "models", "types"]
