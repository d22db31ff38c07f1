"""SQL functions that give the same answer on SQLite and PostgreSQL.

`seeded_rank(prefix, trace_id)` is the first 60 bits of `md5(prefix || '<uuid with dashes>')` as
an integer. Ordering by it is a pseudo-random order that depends only on the prefix (which
carries the seed) and the trace id, so the same seed picks the same traces on either database.
PostgreSQL computes it natively; on SQLite it is a deterministic Python function registered on
every connection (`register_sqlite_functions`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

RANK_HEX_DIGITS = 15  # 60 bits: a positive BIGINT on both databases


def rank_of(prefix: str, trace_id_hex: str) -> int:
    """The rank of one trace; `trace_id_hex` is the UUID as 32 hex digits (SQLite storage)."""
    h = trace_id_hex
    dashed = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    digest = hashlib.md5(f"{prefix}{dashed}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:RANK_HEX_DIGITS], 16)


class seeded_rank(FunctionElement[int]):
    type = BigInteger()
    inherit_cache = True
    name = "seeded_rank"


@compiles(seeded_rank, "sqlite")
def _sqlite_rank(element: seeded_rank, compiler: SQLCompiler, **kw: Any) -> str:
    return f"tunix_rt_rank({compiler.process(element.clauses, **kw)})"


@compiles(seeded_rank, "postgresql")
def _postgres_rank(element: seeded_rank, compiler: SQLCompiler, **kw: Any) -> str:
    prefix, trace_id = list(element.clauses)
    return (
        f"('x' || substr(md5({compiler.process(prefix, **kw)} || "
        f"CAST({compiler.process(trace_id, **kw)} AS TEXT)), 1, {RANK_HEX_DIGITS}))"
        f"::bit({RANK_HEX_DIGITS * 4})::bigint"
    )


def register_sqlite_functions(dbapi_connection: Any) -> None:
    dbapi_connection.create_function("tunix_rt_rank", 2, rank_of, deterministic=True)
