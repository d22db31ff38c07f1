"""Set-based selection: the SQL that picks a dataset's traces and partitions them into splits."""

from __future__ import annotations

import math
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    Subquery,
    and_,
    case,
    cast,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement

from tunix_rt.datasets.pairs import scored_items
from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters, MetaValue
from tunix_rt.db.functions import seeded_order
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import evaluation_items_table as EI
from tunix_rt.db.models import scores_table as S
from tunix_rt.db.models import traces_table as T
from tunix_rt.evals.evalsets import eval_prompts
from tunix_rt.traces.store import TraceFilters


def filter_conditions(filters: DatasetFilters, dialect: str) -> list[ColumnElement[bool]]:
    """The trace filters' conditions (as a trace listing's), then one per `meta` entry."""
    common = TraceFilters(
        source=filters.source,
        created_after=filters.created_after,
        created_before=filters.created_before,
        prompt_contains=filters.prompt_contains,
    )
    meta = [meta_equals(key, value, dialect) for key, value in sorted(filters.meta.items())]
    return [*common.conditions(), *meta]


def meta_equals(key: str, value: MetaValue, dialect: str) -> ColumnElement[bool]:
    """`meta.<key>` equals `value` as JSON: 1 matches 1 and 1.0, never true or "1".

    A null `value` matches a JSON null and a missing key. `key` is already restricted to
    letters, digits, `_` and `-`.
    """
    if dialect == "postgresql":
        field = T.c.payload["meta"][key]
        if value is None:
            return or_(field.is_(None), field == cast(literal("null"), JSONB))
        return field == cast(literal(orjson.dumps(value).decode()), JSONB)
    path = f'$.meta."{key}"'
    kind = func.json_type(T.c.payload, path)
    if value is None:
        return or_(kind.is_(None), kind == "null")
    if isinstance(value, bool):
        return kind == ("true" if value else "false")
    extracted = func.json_extract(T.c.payload, path)
    if isinstance(value, int | float):
        return and_(kind.in_(["integer", "real"]), extracted == value)
    return and_(kind == "text", extracted == value)


def selection_query(request: DatasetBuildRequest, dialect: str) -> Select[Any]:
    """`(seq, position)` of the selected traces, in manifest order.

    `latest`: newest first by creation time. `random`: in the seed's order (`seeded_order`,
    ties by rank key), the same on SQLite and PostgreSQL; without filters it reads only the
    `rank_key` index. (Two traces whose 60-bit keys collide, a chance below one in a million
    in a million-trace table, are ordered by storage sequence.) With `dedupe`, a trace whose
    prompt and final answer repeat an earlier (older) trace's is left out before the limit
    applies. Unless `allow_eval_prompts`, traces whose prompt is an eval set item's are left
    out. With `pairs_from_evaluation`, only the traces the evaluation scored are candidates,
    and each comes with its evaluation item's index (`eval_idx`).
    """
    columns: list[Any] = [T.c.seq]
    if request.selection_strategy == "random":
        columns += [
            seeded_order(str(request.seed), T.c.rank_key).label("rank"),
            T.c.rank_key,
        ]
    else:
        columns.append(T.c.created_at)
    pool, chosen = _eligible(columns, request, dialect)
    if request.selection_strategy == "random":
        order: tuple[Any, ...] = (pool.c.rank, pool.c.rank_key, pool.c.seq)
    else:
        order = (pool.c.created_at.desc(), pool.c.seq.desc())
    limited = chosen.order_by(*order).limit(request.limit).subquery("chosen")
    if request.selection_strategy == "random":
        final_order: tuple[Any, ...] = (limited.c.rank, limited.c.rank_key, limited.c.seq)
    else:
        final_order = (limited.c.created_at.desc(), limited.c.seq.desc())
    position = func.row_number().over(order_by=final_order) - 1
    picked = [limited.c.seq, position.label("position")]
    if request.pairs_from_evaluation is not None:
        picked.append(limited.c.eval_idx)
    return select(*picked)


def _eligible(
    columns: list[Any], request: DatasetBuildRequest, dialect: str
) -> tuple[Subquery, Select[Any]]:
    """The traces the selection may take, before its order and limit: `(pool, eligible)`, where
    `pool` holds `columns` of the traces the filters admit (less eval prompts unless allowed)
    and `eligible` selects from it (only first occurrences with `dedupe`)."""
    if request.pairs_from_evaluation is not None:
        columns = [*columns, EI.c.idx.label("eval_idx")]
    if request.dedupe:
        first_of_kind = func.row_number().over(
            partition_by=(T.c.prompt, T.c.final_answer), order_by=(T.c.created_at, T.c.seq)
        )
        columns = [*columns, first_of_kind.label("occurrence")]
    candidates = _matching(select(*columns), request, dialect)
    if not request.allow_eval_prompts:
        candidates = candidates.where(T.c.prompt.not_in(sorted(eval_prompts())))
    pool = candidates.subquery("pool")
    eligible = select(pool)
    if request.dedupe:
        eligible = eligible.where(pool.c.occurrence == 1)
    return pool, eligible


async def count_eligible(conn: AsyncConnection, request: DatasetBuildRequest) -> int:
    """How many traces the selection could take without its limit (one COUNT)."""
    _, eligible = _eligible([T.c.seq], request, conn.dialect.name)
    counted = select(func.count()).select_from(eligible.subquery("eligible"))
    return int((await conn.execute(counted)).scalar_one())


def _matching(stmt: Select[Any], request: DatasetBuildRequest, dialect: str) -> Select[Any]:
    """`stmt` over the traces that the request's filters (and minimum score, and evaluation)
    admit."""
    if request.pairs_from_evaluation is not None:
        stmt = stmt.join(EI, scored_items(request.pairs_from_evaluation, dialect))
    stmt = stmt.where(*filter_conditions(request.filters, dialect))
    if request.filters.min_score is not None:
        wanted = request.filters.min_score
        stmt = stmt.join(
            S,
            and_(
                S.c.trace_id == T.c.id,
                S.c.criteria == wanted.criteria,
                S.c.score >= wanted.score,
            ),
        )
    return stmt


async def count_eval_prompts(conn: AsyncConnection, request: DatasetBuildRequest) -> int:
    """How many traces the filters admit whose prompt is an eval set's: the build leaves them
    out unless `allow_eval_prompts`, so that held-out sets stay held out."""
    counted = _matching(select(func.count()).select_from(T), request, conn.dialect.name)
    counted = counted.where(T.c.prompt.in_(sorted(eval_prompts())))
    return int((await conn.execute(counted)).scalar_one())


async def insert_selection(conn: AsyncConnection, key: str, request: DatasetBuildRequest) -> None:
    """Store the selected traces as the items of dataset `key`, in the caller's transaction.

    PostgreSQL never runs the SELECT of an `INSERT ... SELECT` in parallel, and checks each new
    item's foreign key by locking its trace row: inserted in selection order, that is a random
    walk over the traces table. There the selection goes to a temporary table first (a
    `CREATE TABLE AS` does get parallel workers), and the items are inserted from it in trace
    order; this halves the build on a million traces. SQLite inserts straight from the SELECT.
    """
    dialect = conn.dialect.name
    chosen = selection_query(request, dialect)
    columns = ["dataset_key", "position", "trace_seq"]
    paired = request.pairs_from_evaluation is not None
    if paired:
        columns.append("eval_idx")
    if dialect != "postgresql":
        selected = chosen.subquery("selection")
        values = [literal(key), selected.c.position, selected.c.seq]
        if paired:
            values.append(selected.c.eval_idx)
        await conn.execute(insert(I).from_select(columns, select(*values)))
        return
    await conn.execute(_CreateTemporaryTableAs(_SELECTION_TABLE.name, chosen))
    stored = _SELECTION_TABLE
    values = [literal(key), stored.c.position, stored.c.seq]
    if paired:
        values.append(stored.c.eval_idx)
    await conn.execute(insert(I).from_select(columns, select(*values).order_by(stored.c.seq)))


_SELECTION_TABLE = table(
    "dataset_build_selection", column("seq"), column("position"), column("eval_idx")
)


class _CreateTemporaryTableAs(Executable, ClauseElement):
    """`CREATE TEMPORARY TABLE name ON COMMIT DROP AS query` (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name = name
        self.query = query


@compiles(_CreateTemporaryTableAs)
def _compile_create_temporary_table_as(
    element: _CreateTemporaryTableAs, compiler: Any, **kw: Any
) -> str:
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.name} ON COMMIT DROP AS {query}"


def split_sizes(total: int, fractions: dict[str, float]) -> list[tuple[str, int]]:
    """Exact split sizes summing to `total` (largest remainder, ties by name)."""
    exact = {name: total * fraction for name, fraction in fractions.items()}
    sizes = {name: math.floor(value) for name, value in exact.items()}
    left = total - sum(sizes.values())
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - sizes[name]), name))
    for name in by_remainder[:left]:
        sizes[name] += 1
    return [(name, sizes[name]) for name in sorted(fractions)]


def assign_splits(key: str, seed: int, sizes: list[tuple[str, int]]) -> Any:
    """An UPDATE giving each item its split: items in the order of seed `split:<seed>`."""
    split_order = seeded_order(f"split:{seed}", T.c.rank_key)
    ranked = (
        select(
            I.c.position,
            func.row_number().over(order_by=(split_order, T.c.rank_key, I.c.position)).label("r"),
        )
        .join(T, T.c.seq == I.c.trace_seq)
        .where(I.c.dataset_key == key)
        .subquery("ranked")
    )
    whens = []
    upper = 0
    for name, size in sizes:
        upper += size
        whens.append((ranked.c.r <= upper, name))
    return (
        update(I)
        .where(I.c.dataset_key == key, I.c.position == ranked.c.position)
        .values(split=case(*whens, else_=None))
    )
