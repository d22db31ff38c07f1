"""`/api/tunix/runs/{id}/evaluate` and `/api/tunix/evaluations`: evaluate runs, read scorecards
and items, rank and compare evaluations, and store a model's outputs as traces."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from tunix_rt.api.deps import AppSettings, Connection, Engine, wake_executor
from tunix_rt.api.errors import error_responses
from tunix_rt.api.responses import JOB_LOG, LogTail, accepted, created
from tunix_rt.api.route import ApiRoute
from tunix_rt.datasets.schema import KEY_PATTERN, NAME_PATTERN
from tunix_rt.evals import service, store
from tunix_rt.evals.schema import (
    Comparison,
    EvaluationAccepted,
    EvaluationOptions,
    EvaluationPage,
    EvaluationRecord,
    EvaluationStatus,
    ItemPage,
    SortKey,
    Subject,
    TracesStored,
)
from tunix_rt.runs import logs

router = APIRouter(prefix="/api/tunix", tags=["evaluations"], route_class=ApiRoute)

Cursor = Annotated[str | None, Query(max_length=512)]


class EvaluationCancel(BaseModel):
    evaluation_id: uuid.UUID
    status: str


@router.post("/runs/{run_id}/evaluate", **accepted(EvaluationAccepted, 400, 404, 409, 413, 503))
async def evaluate(
    run_id: uuid.UUID, options: EvaluationOptions, http: Request, engine: Engine
) -> EvaluationAccepted:
    """Queue an evaluation of the run's checkpoint on an eval set or a dataset (split).

    404: unknown run, eval set or dataset; 409: the run has no checkpoint (with the reason);
    422: a trace without `meta.expected_answer` (the first one is named); 503: no `train` extra.
    """
    accepted = await service.submit(engine, run_id, options)
    wake_executor(http)
    return accepted


@router.get(
    "/runs/{run_id}/evaluation", response_model=EvaluationRecord, responses=error_responses(404)
)
async def latest(run_id: uuid.UUID, conn: Connection) -> EvaluationRecord:
    """The run's newest evaluation: its scorecard, the base's, and trained - base."""
    return await service.latest(conn, run_id)


@router.get("/evaluations", response_model=EvaluationPage)
async def leaderboard(
    conn: Connection,
    sort: SortKey = "accuracy",
    evalset: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    dataset_key: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
    model_id: Annotated[str | None, Query(max_length=255)] = None,
    run_id: uuid.UUID | None = None,
    status_: Annotated[EvaluationStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
) -> EvaluationPage:
    """The leaderboard: best accuracy (or delta over base) first, or newest first (`date`).
    `accuracy` lists the evaluations that have one, `delta` those with a base."""
    return await store.leaderboard(
        conn,
        sort=sort,
        evalset=evalset,
        dataset_key=dataset_key,
        model_id=model_id,
        run_id=run_id,
        status=status_,
        limit=limit,
        cursor=cursor,
    )


@router.get("/evaluations/compare", response_model=Comparison, responses=error_responses(404))
async def compare(
    a: uuid.UUID,
    b: uuid.UUID,
    conn: Connection,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> Comparison:
    """Two evaluations of the same target, item by item: right in a only, in b only, in both,
    in neither (the disagreements first)."""
    return await store.compare(conn, a, b, limit=limit, cursor=cursor)


@router.get(
    "/evaluations/{evaluation_id}", response_model=EvaluationRecord, responses=error_responses(404)
)
async def get_evaluation(evaluation_id: uuid.UUID, conn: Connection) -> EvaluationRecord:
    return await store.get_evaluation(conn, evaluation_id)


@router.get(
    "/evaluations/{evaluation_id}/items", response_model=ItemPage, responses=error_responses(404)
)
async def items(
    evaluation_id: uuid.UUID,
    conn: Connection,
    subject: Subject = "trained",
    correct: bool | None = None,
    format_ok: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> ItemPage:
    """Scored items in index order: prompt, completion, extracted and expected answer."""
    return await store.list_items(
        conn,
        evaluation_id,
        subject=subject,
        correct=correct,
        format_ok=format_ok,
        limit=limit,
        cursor=cursor,
    )


@router.get("/evaluations/{evaluation_id}/logs", **JOB_LOG)
async def evaluation_logs(
    evaluation_id: uuid.UUID,
    conn: Connection,
    settings: AppSettings,
    tail: LogTail = 200,
) -> PlainTextResponse:
    """The last `tail` lines of the evaluation worker's log."""
    path = await service.evaluation_log_path(conn, settings.runs_dir, evaluation_id)
    return PlainTextResponse(logs.tail(path, tail))


@router.post(
    "/evaluations/{evaluation_id}/cancel",
    response_model=EvaluationCancel,
    responses=error_responses(404, 409),
)
async def cancel(evaluation_id: uuid.UUID, http: Request, engine: Engine) -> EvaluationCancel:
    """Cancel: a queued evaluation at once; a running one stops after its current batch."""
    after = await service.cancel(engine, evaluation_id)
    wake_executor(http)
    return EvaluationCancel(evaluation_id=evaluation_id, status=after)


@router.post("/evaluations/{evaluation_id}/traces", **created(TracesStored, 404, 409))
async def store_traces(evaluation_id: uuid.UUID, engine: Engine) -> TracesStored:
    """Store every completion of the trained model as a trace (`meta.source: model`, with
    `meta.correct`), once: build the next dataset from the correct ones."""
    return await service.store_outputs(engine, evaluation_id)
