"""`/evaluations`: the leaderboard, one evaluation's scorecard and items, and two evaluations
compared item by item."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse

from tunix_rt.api.deps import Connection, Engine, wake_executor
from tunix_rt.datasets.schema import KEY_PATTERN, NAME_PATTERN
from tunix_rt.evals import service, store
from tunix_rt.evals.evalsets import EVAL_SETS
from tunix_rt.evals.schema import EvaluationStatus, ItemOrder, SortKey, Subject
from tunix_rt.evals.scoring import breakdown
from tunix_rt.web.charts import bar_chart
from tunix_rt.web.forms import read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render, render_live, this_page_with

router = page_router()

LEADERBOARD_LIMIT = 20
ITEMS_LIMIT = 50
COMPARE_LIMIT = 50
#: An evaluation in one of these will not change: its page stops refreshing.
FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})

Cursor = Annotated[str | None, Query(max_length=512)]
# A select's "any" option sends an empty value: the filters take it as no filter.
Choice = Literal[""]
Flag = Literal["", "true", "false"]


def _given(value: str | None) -> str | None:
    return value or None


def _flag(value: Flag) -> bool | None:
    return None if value == "" else value == "true"


def _next_url(request: Request, cursor: str | None) -> str | None:
    """This page's address with the next page's cursor, the other parameters kept."""
    return None if cursor is None else this_page_with(request, cursor=cursor)


@router.get("/evaluations")
async def leaderboard(
    request: Request,
    conn: Connection,
    sort: SortKey = "accuracy",
    evalset: Annotated[str | None, Query(pattern=f"({NAME_PATTERN})|^$")] = None,
    dataset_key: Annotated[str | None, Query(pattern=f"({KEY_PATTERN})|^$")] = None,
    model_id: Annotated[str | None, Query(max_length=255)] = None,
    status: EvaluationStatus | Choice | None = None,
    cursor: Cursor = None,
) -> Response:
    page = await store.leaderboard(
        conn,
        sort=sort,
        evalset=_given(evalset),
        dataset_key=_given(dataset_key),
        model_id=_given(model_id),
        status=status or None,
        limit=LEADERBOARD_LIMIT,
        cursor=cursor,
    )
    choices = await store.leaderboard_choices(conn)
    return render(
        request,
        "evaluations/leaderboard.html",
        title="Evaluations",
        rows=page.data,
        next_url=_next_url(request, page.next_cursor),
        evalsets=sorted({*EVAL_SETS, *choices.evalsets}),
        choices=choices,
        filters={
            "sort": sort,
            "evalset": evalset or "",
            "dataset_key": dataset_key or "",
            "model_id": model_id or "",
            "status": status or "",
        },
        paged=cursor is not None,
    )


@router.get("/evaluations/compare")
async def compare(
    request: Request, conn: Connection, a: uuid.UUID, b: uuid.UUID, cursor: Cursor = None
) -> Response:
    comparison = await store.compare(conn, a, b, limit=COMPARE_LIMIT, cursor=cursor)
    return render(
        request,
        "evaluations/compare.html",
        title="Compare evaluations",
        comparison=comparison,
        first=await store.get_evaluation(conn, a),
        second=await store.get_evaluation(conn, b),
        next_url=_next_url(request, comparison.next_cursor),
    )


@router.get("/evaluations/{evaluation_id}")
async def evaluation(
    request: Request,
    evaluation_id: uuid.UUID,
    conn: Connection,
    subject: Subject = "trained",
    correct: Flag = "",
    format_ok: Flag = "",
    order: ItemOrder = "wrong_first",
    cursor: Cursor = None,
) -> Response:
    record = await store.get_evaluation(conn, evaluation_id)
    items = await store.list_items(
        conn,
        evaluation_id,
        subject=subject,
        correct=_flag(correct),
        format_ok=_flag(format_ok),
        order=order,
        limit=ITEMS_LIMIT,
        cursor=cursor,
    )
    groups = breakdown(record.trained, record.base) if record.trained is not None else []
    chart = bar_chart(
        [(row.label, row.trained.accuracy) for row in groups],
        y_label="accuracy",
        title="Accuracy of the trained model by group",
        y_max=1,
        value_format="{:.0%}",
        testid="eval:breakdown-chart",
    )
    return render_live(
        request,
        "evaluations/evaluation.html",
        title=f"Evaluation {str(record.id)[:8]}",
        record=record,
        final=record.status in FINAL_STATUSES,
        groups=groups,
        chart=chart,
        items=items.data,
        next_url=_next_url(request, items.next_cursor),
        filters={
            "subject": subject,
            "correct": correct,
            "format_ok": format_ok,
            "order": order,
        },
        paged=cursor is not None,
    )


@router.post("/evaluations/{evaluation_id}/cancel")
async def cancel(request: Request, evaluation_id: uuid.UUID, engine: Engine) -> Response:
    await read_form(request)
    await service.cancel(engine, evaluation_id)
    wake_executor(request)
    return RedirectResponse(f"/evaluations/{evaluation_id}", status_code=303)


@router.post("/evaluations/{evaluation_id}/traces")
async def store_traces(request: Request, evaluation_id: uuid.UUID, engine: Engine) -> Response:
    await read_form(request)
    await service.store_outputs(engine, evaluation_id)
    return RedirectResponse(f"/evaluations/{evaluation_id}", status_code=303)
