"""Seeded pseudo-random orders that are the same on SQLite and PostgreSQL, in plain SQL.

Every trace stores a `rank_key`: the first 60 bits of `md5('<uuid with dashes>')`, computed
once when the trace is stored (and by migration 0004 for older rows). A seed picks three
constants, and a trace's place in the seed's order is

    ((a1 * (rank_key >> 30)) % P + (a2 * (rank_key & (2**30 - 1))) % P + b) % P,  P = 2**31 - 1

with ties broken by `rank_key`. The key depends only on the trace id, the
constants only on the seed, and every intermediate value stays below 2**62, so both databases
compute the same integers with their native 64-bit arithmetic: the same seed orders the same
traces identically wherever they are stored, with no per-row function call. Different seeds
give unrelated orders (the map is a random member of a pairwise-independent hash family over
the two 30-bit halves of a uniformly distributed key); it is a sampling order, not
cryptography.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, literal_column

PRIME = 2**31 - 1
HALF_BITS = 30
RANK_KEY_HEX_DIGITS = 15  # 60 bits: a positive BIGINT on both databases


def rank_key_of(trace_id: uuid.UUID) -> int:
    """The stored `rank_key` of a trace: the first 60 bits of md5 of its dashed id."""
    digest = hashlib.md5(str(trace_id).encode(), usedforsecurity=False).hexdigest()
    return int(digest[:RANK_KEY_HEX_DIGITS], 16)


def seed_constants(seed: str) -> tuple[int, int, int]:
    """`(a1, a2, b)` for a seed, each in 1..P-1."""
    digest = hashlib.sha256(f"tunix-rt order:{seed}".encode()).digest()
    a1, a2, b = (int.from_bytes(digest[i : i + 8], "big") % (PRIME - 1) + 1 for i in (0, 8, 16))
    return a1, a2, b


def seeded_order(seed: str, rank_key: ColumnElement[int]) -> ColumnElement[int]:
    """The SQL expression ranking a row by `seed` (see the module docstring)."""
    a1, a2, b = (_integer(n) for n in seed_constants(seed))
    p = _integer(PRIME)
    high = rank_key.bitwise_rshift(_integer(HALF_BITS))
    low = rank_key.bitwise_and(_integer(2**HALF_BITS - 1))
    order: ColumnElement[int] = ((a1 * high) % p + (a2 * low) % p + b) % p
    return order


def _integer(value: int) -> ColumnElement[int]:
    """An inline integer literal (no bind parameter, so PostgreSQL never guesses its type)."""
    return literal_column(str(value), BigInteger)


def _rank_key_of_hex(trace_id_hex: str) -> int:
    return rank_key_of(uuid.UUID(hex=trace_id_hex))


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """`tunix_rt_rank_key(id)` for migration 0004's backfill of older SQLite rows."""
    dbapi_connection.create_function("tunix_rt_rank_key", 1, _rank_key_of_hex, deterministic=True)
