"""Datasets built from an evaluation (`pairs_from_evaluation`): which evaluations may be paired,
and the set-based SQL that joins an evaluation's items to traces and to dataset items.

An evaluation of a dataset stores each item's trace id in the item's `meta.trace_id`. A build
joins the evaluation's items (of the trained model) to the traces by that id, in the one
selection statement, and stores each selected item's index as `dataset_items.eval_idx`. An
export then finds a trace's evaluation item by primary key
`(evaluation_id, 'trained', eval_idx)`, a batch of items at a time.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Uuid, and_, cast, func, not_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from tunix_rt.datasets.schema import PairsFromEvaluation
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import evaluation_items_table as EI
from tunix_rt.db.models import evaluations_table as E
from tunix_rt.db.models import traces_table as T
from tunix_rt.errors import ConflictError, InvalidInputError, NotFoundError

#: The request field, as errors name it.
FIELD = "pairs_from_evaluation"
#: The evaluation subject whose completions are paired: the trained model.
SUBJECT = "trained"


async def check_pairable(conn: AsyncConnection, evaluation_id: uuid.UUID) -> None:
    """NotFoundError (404) for an unknown evaluation, ConflictError (409) for one that has not
    succeeded, InvalidInputError (422) for one of an eval set; each names the field."""
    loc = (FIELD, "evaluation_id")
    row = (
        await conn.execute(
            select(E.c.status, E.c.target_kind, E.c.target_name).where(E.c.id == evaluation_id)
        )
    ).first()
    if row is None:
        raise NotFoundError(f"evaluation {evaluation_id} not found", loc=loc)
    if row.target_kind == "evalset":
        raise InvalidInputError(
            f"evaluation {evaluation_id} is of the eval set {row.target_name}, whose items are "
            "not stored traces and must stay unseen by training; evaluate a dataset (or its "
            "train split) and pair from that evaluation instead",
            loc=loc,
        )
    if row.status != "succeeded":
        raise ConflictError(
            f"evaluation {evaluation_id} is {row.status}: only a succeeded evaluation's items "
            "can be paired",
            loc=loc,
        )


def scored_trace(dialect: str) -> ColumnElement[bool]:
    """An evaluation item (`EI`) is of the trace `T`: its `meta.trace_id` is the trace's id."""
    trace_id = EI.c.meta["trace_id"].as_string()
    if dialect == "postgresql":
        return T.c.id == cast(trace_id, Uuid)
    return T.c.id == func.replace(trace_id, "-", "")  # SQLite stores ids as 32 hex digits


def scored_items(pairs: PairsFromEvaluation, dialect: str) -> ColumnElement[bool]:
    """The join condition of the traces (`T`) to the evaluation's items (`EI`) that a build
    from `pairs` may take (only the wrong ones with `only_wrong`)."""
    condition = and_(
        EI.c.evaluation_id == pairs.evaluation_id, EI.c.subject == SUBJECT, scored_trace(dialect)
    )
    return and_(condition, not_(EI.c.correct)) if pairs.only_wrong else condition


async def count_wrong(conn: AsyncConnection, key: str, evaluation_id: uuid.UUID) -> int:
    """How many items of dataset `key` the evaluation got wrong."""
    counted: Any = (
        select(func.count())
        .select_from(I)
        .join(
            EI,
            and_(
                EI.c.evaluation_id == evaluation_id,
                EI.c.subject == SUBJECT,
                EI.c.idx == I.c.eval_idx,
            ),
        )
        .where(I.c.dataset_key == key, not_(EI.c.correct))
    )
    return int((await conn.execute(counted)).scalar_one())


def paired_evaluation(manifest: dict[str, Any]) -> uuid.UUID | None:
    """The evaluation a dataset's stored manifest was built from, or None."""
    pairs = manifest.get(FIELD)
    return None if not pairs else uuid.UUID(pairs["evaluation_id"])


async def require_paired_evaluation(
    conn: AsyncConnection, key: str, evaluation_id: uuid.UUID
) -> None:
    """ConflictError (409) when the evaluation dataset `key` was built from is gone: its
    `preference` export would no longer be the same bytes."""
    if (await conn.execute(select(E.c.id).where(E.c.id == evaluation_id))).first() is None:
        raise ConflictError(
            f"dataset {key} pairs the outputs of evaluation {evaluation_id}, which no longer "
            "exists: its preference export cannot be made again"
        )
