"""Evaluation rows and their items: create, read, page, rank and compare (the queue is
`runs.jobs`)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Uuid,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.db.models import evaluation_items_table as EI
from tunix_rt.db.models import evaluations_table as E
from tunix_rt.db.types import UTCDateTime
from tunix_rt.errors import ConflictError, InvalidInputError
from tunix_rt.evals.schema import (
    ComparedItem,
    CompareOutcome,
    Comparison,
    EvaluationItem,
    EvaluationOptions,
    EvaluationPage,
    EvaluationRecord,
    EvaluationStatus,
    EvaluationSummary,
    EvaluationTarget,
    ItemOrder,
    ItemPage,
    LeaderboardChoices,
    Scorecard,
    ScorecardDelta,
    SortKey,
    Subject,
)
from tunix_rt.runs import jobs
from tunix_rt.runs.jobs import insert_job


async def create_evaluation(
    engine: AsyncEngine,
    *,
    run_id: uuid.UUID,
    model_id: str,
    options: EvaluationOptions,
    target: EvaluationTarget,
    status: EvaluationStatus = "queued",
    pid: int | None = None,
) -> uuid.UUID:
    return await insert_job(
        engine,
        E,
        status,
        pid,
        run_id=run_id,
        model_id=model_id,
        options=options.model_dump(mode="json"),
        base=options.base,
        **{column: getattr(target, field) for field, column in TARGET_COLUMNS.items()},
    )


#: How an evaluation row stores its target: field of EvaluationTarget -> column.
TARGET_COLUMNS = {
    "kind": "target_kind",
    "name": "target_name",
    "split": "target_split",
    "sha256": "target_sha256",
    "items": "item_count",
}


def _target(row: Any) -> EvaluationTarget:
    return EvaluationTarget(**{field: row._mapping[c] for field, c in TARGET_COLUMNS.items()})


def _record(row: Any, items_done: int) -> EvaluationRecord:
    """An `evaluations` row as the API shows it: its columns, its target, how many items are
    stored, and the scorecards once it succeeded."""
    card = row.scorecard or {}
    return EvaluationRecord.model_validate(
        {
            **row._mapping,
            "target": _target(row),
            "items_done": items_done,
            "trained": card.get("trained") or None,
            "base": card.get("base") or None,
            "delta": card.get("delta") or None,
        }
    )


async def _items_done(conn: AsyncConnection, evaluation_id: uuid.UUID) -> int:
    counted = (
        select(func.count())
        .select_from(EI)
        .where(EI.c.evaluation_id == evaluation_id, EI.c.subject == "trained")
    )
    return int((await conn.execute(counted)).scalar_one())


async def require_evaluation(conn: AsyncConnection, evaluation_id: uuid.UUID) -> None:
    """NotFoundError unless the evaluation exists."""
    await jobs.require_job(conn, "evaluation", evaluation_id)


async def get_evaluation(conn: AsyncConnection, evaluation_id: uuid.UUID) -> EvaluationRecord:
    row = await jobs.job_row(conn, "evaluation", evaluation_id)
    return _record(row, await _items_done(conn, evaluation_id))


async def latest_for_run(conn: AsyncConnection, run_id: uuid.UUID) -> EvaluationRecord | None:
    """The run's newest evaluation, whatever its status."""
    row = (
        await conn.execute(
            select(E).where(E.c.run_id == run_id).order_by(E.c.created_at.desc()).limit(1)
        )
    ).first()
    return None if row is None else _record(row, await _items_done(conn, row.id))


async def add_items(engine: AsyncEngine, rows: Sequence[dict[str, Any]]) -> None:
    """Store scored items (the columns of `evaluation_items`) in one transaction."""
    if not rows:
        return
    async with engine.begin() as conn:
        await conn.execute(insert(EI), list(rows))


async def succeed(
    engine: AsyncEngine,
    evaluation_id: uuid.UUID,
    trained: Scorecard,
    base: Scorecard | None,
    delta: ScorecardDelta | None,
) -> bool:
    """Record the scorecards and mark the evaluation succeeded (False if it already ended)."""
    return await jobs.finish(
        engine,
        "evaluation",
        evaluation_id,
        "succeeded",
        accuracy=trained.accuracy,
        format_rate=trained.format_rate,
        base_accuracy=None if base is None else base.accuracy,
        delta_accuracy=None if delta is None else delta.accuracy,
        scorecard={
            "trained": trained.model_dump(mode="json"),
            "base": None if base is None else base.model_dump(mode="json"),
            "delta": None if delta is None else delta.model_dump(mode="json"),
        },
    )


# --- cursors -------------------------------------------------------------------------------


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _decode_cursor(token: str, arity: int, what: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInputError(f"cursor is not one that {what} returned", loc=("cursor",)) from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInputError(f"cursor is not one that {what} returned", loc=("cursor",))
    return values


# --- items ---------------------------------------------------------------------------------


def _item(row: Any) -> EvaluationItem:
    """An `evaluation_items` row as the API shows it (its columns are the fields; `idx` is
    `index`)."""
    return EvaluationItem.model_validate({**row._mapping, "index": row.idx})


async def list_items(
    conn: AsyncConnection,
    evaluation_id: uuid.UUID,
    *,
    subject: Subject = "trained",
    correct: bool | None = None,
    format_ok: bool | None = None,
    order: ItemOrder = "index",
    limit: int = 50,
    cursor: str | None = None,
) -> ItemPage:
    """Items in index order, or the wrong ones first (`wrong_first`, each part in index order);
    keyset paging on the (wrong-first rank and) index."""
    await require_evaluation(conn, evaluation_id)
    stmt = select(EI).where(EI.c.evaluation_id == evaluation_id, EI.c.subject == subject)
    if correct is not None:
        stmt = stmt.where(EI.c.correct == correct)
    if format_ok is not None:
        stmt = stmt.where(EI.c.format_ok == format_ok)
    # A wrong answer ranks 0, a correct one 1: one integer sorts alike on both databases.
    keys: list[Any] = [EI.c.idx]
    if order == "wrong_first":
        keys.insert(0, case((EI.c.correct, 1), else_=0))
    if cursor is not None:
        after = _decode_cursor(cursor, len(keys), "an item list")
        if not all(isinstance(value, int) for value in after):
            raise InvalidInputError("cursor is not one that an item list returned", loc=("cursor",))
        stmt = stmt.where(tuple_(*keys) > tuple_(*map(literal, after)))
    rows = (await conn.execute(stmt.order_by(*keys).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        head = [int(last.correct)] if order == "wrong_first" else []
        next_cursor = _encode_cursor([*head, last.idx])
    return ItemPage(data=[_item(row) for row in rows], next_cursor=next_cursor)


async def all_items(
    conn: AsyncConnection, evaluation_id: uuid.UUID, subject: Subject = "trained"
) -> list[EvaluationItem]:
    rows = await conn.execute(
        select(EI)
        .where(EI.c.evaluation_id == evaluation_id, EI.c.subject == subject)
        .order_by(EI.c.idx)
    )
    return [_item(row) for row in rows.all()]


async def mark_traces_stored(engine: AsyncEngine, evaluation_id: uuid.UUID, count: int) -> None:
    """Record that the outputs were stored as traces; refused a second time."""
    async with engine.begin() as conn:
        outcome = await conn.execute(
            update(E)
            .where(E.c.id == evaluation_id, E.c.traces_stored.is_(None))
            .values(traces_stored=count)
        )
        if not outcome.rowcount:
            raise ConflictError(f"evaluation {evaluation_id}'s outputs are already stored")


# --- the leaderboard -----------------------------------------------------------------------

_SORT_COLUMNS: dict[SortKey, Any] = {
    "accuracy": E.c.accuracy,
    "delta": E.c.delta_accuracy,
    "date": None,
}


def _summary(row: Any) -> EvaluationSummary:
    target = _target(row)
    trained = (row.scorecard or {}).get("trained") or {}
    return EvaluationSummary.model_validate(
        {
            **row._mapping,
            "target": target.label,
            "items": target.items,
            "accuracy_low": trained.get("accuracy_low"),
            "accuracy_high": trained.get("accuracy_high"),
        }
    )


async def leaderboard(
    conn: AsyncConnection,
    *,
    sort: SortKey = "accuracy",
    evalset: str | None = None,
    dataset_key: str | None = None,
    model_id: str | None = None,
    run_id: uuid.UUID | None = None,
    status: EvaluationStatus | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> EvaluationPage:
    """Evaluations, best first (`accuracy`, `delta`: only those that have the figure) or newest
    first (`date`); keyset paging."""
    stmt = select(E)
    if evalset is not None:
        stmt = stmt.where(E.c.target_kind == "evalset", E.c.target_name == evalset)
    if dataset_key is not None:
        stmt = stmt.where(E.c.target_kind == "dataset", E.c.target_name == dataset_key)
    if model_id is not None:
        stmt = stmt.where(E.c.model_id == model_id)
    if run_id is not None:
        stmt = stmt.where(E.c.run_id == run_id)
    if status is not None:
        stmt = stmt.where(E.c.status == status)
    value = _SORT_COLUMNS[sort]
    keys: list[Any] = [E.c.created_at, E.c.id]
    if value is not None:
        stmt = stmt.where(value.is_not(None))
        keys.insert(0, value)
    if cursor is not None:
        stmt = stmt.where(tuple_(*keys) < _cursor_position(cursor, value is not None))
    stmt = stmt.order_by(*(key.desc() for key in keys)).limit(limit + 1)
    rows = (await conn.execute(stmt)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        head = [getattr(last, value.name)] if value is not None else []
        next_cursor = _encode_cursor([*head, last.created_at.isoformat(), str(last.id)])
    return EvaluationPage(data=[_summary(row) for row in rows], next_cursor=next_cursor)


def _cursor_position(token: str, with_value: bool) -> ColumnElement[Any]:
    values = _decode_cursor(token, 3 if with_value else 2, "an evaluation list")
    try:
        created_at = datetime.fromisoformat(values[-2])
        last_id = uuid.UUID(values[-1])
        if created_at.tzinfo is None or (with_value and not isinstance(values[0], int | float)):
            raise ValueError("bad cursor")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            "cursor is not one that an evaluation list returned", loc=("cursor",)
        ) from exc
    parts: list[Any] = [literal(created_at, UTCDateTime()), literal(last_id, Uuid())]
    if with_value:
        parts.insert(0, literal(float(values[0])))
    return tuple_(*parts)


async def leaderboard_choices(conn: AsyncConnection) -> LeaderboardChoices:
    """The eval sets, datasets and models that have evaluations, each sorted."""
    targets = await conn.execute(
        select(E.c.target_kind, E.c.target_name).distinct().order_by(E.c.target_name)
    )
    names: dict[str, list[str]] = {"evalset": [], "dataset": []}
    for kind, name in targets.all():
        names[kind].append(name)
    models = await conn.execute(select(E.c.model_id).distinct().order_by(E.c.model_id))
    return LeaderboardChoices(
        evalsets=names["evalset"], dataset_keys=names["dataset"], model_ids=list(models.scalars())
    )


# --- comparing two evaluations -------------------------------------------------------------


async def compare(
    conn: AsyncConnection,
    a: uuid.UUID,
    b: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> Comparison:
    """Item by item on their common items (trained model): right in a only, in b only, in both,
    in neither; the disagreements first, then by index."""
    first, second = await get_evaluation(conn, a), await get_evaluation(conn, b)
    if (first.target.kind, first.target.name, first.target.split, first.target.sha256) != (
        second.target.kind,
        second.target.name,
        second.target.split,
        second.target.sha256,
    ):
        raise InvalidInputError(
            f"evaluations {a} and {b} are of different targets "
            f"({first.target.label} {first.target.sha256[:12]} vs "
            f"{second.target.label} {second.target.sha256[:12]})",
            loc=("b",),
        )
    ia, ib = EI.alias("a"), EI.alias("b")
    outcome = case(
        (and_(ia.c.correct, ib.c.correct), "both"),
        (ia.c.correct, "a_only"),
        (ib.c.correct, "b_only"),
        else_="neither",
    )
    rank = case((ia.c.correct != ib.c.correct, 0), else_=1)
    joined = (
        select(
            ia.c.idx,
            ia.c.prompt,
            ia.c.expected,
            ia.c.answer.label("a_answer"),
            ib.c.answer.label("b_answer"),
            ia.c.completion.label("a_completion"),
            ib.c.completion.label("b_completion"),
            ia.c.correct.label("a_correct"),
            ib.c.correct.label("b_correct"),
            outcome.label("outcome"),
            rank.label("rank"),
        )
        .select_from(ia)
        .join(ib, and_(ib.c.idx == ia.c.idx, ib.c.evaluation_id == b, ib.c.subject == "trained"))
        .where(ia.c.evaluation_id == a, ia.c.subject == "trained")
        .subquery("compared")
    )
    counted = await conn.execute(select(joined.c.outcome, func.count()).group_by(joined.c.outcome))
    counts: dict[CompareOutcome, int] = {"a_only": 0, "b_only": 0, "both": 0, "neither": 0}
    for name, count in counted.all():
        counts[name] = int(count)
    common = sum(counts.values())
    page = select(joined)
    if cursor is not None:
        position = _decode_cursor(cursor, 2, "a comparison")
        if not all(isinstance(v, int) for v in position):
            raise InvalidInputError("cursor is not one that a comparison returned", loc=("cursor",))
        page = page.where(tuple_(joined.c.rank, joined.c.idx) > tuple_(*map(literal, position)))
    rows = (await conn.execute(page.order_by(joined.c.rank, joined.c.idx).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Comparison(
        a=a,
        b=b,
        target=first.target.label,
        counts=counts,
        a_accuracy=(counts["a_only"] + counts["both"]) / common if common else 0.0,
        b_accuracy=(counts["b_only"] + counts["both"]) / common if common else 0.0,
        data=[ComparedItem.model_validate({**row._mapping, "index": row.idx}) for row in rows],
        next_cursor=_encode_cursor([rows[-1].rank, rows[-1].idx]) if more else None,
    )
