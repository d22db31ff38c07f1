"""`/api/traces`: create, batch-create, list, get, delete, score and compare traces."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from tunix_rt.api.deps import AppSettings, Connection, Engine
from tunix_rt.api.errors import error_responses
from tunix_rt.api.responses import NO_CONTENT, created, no_content
from tunix_rt.api.route import ApiRoute
from tunix_rt.traces import store
from tunix_rt.traces.schema import ReasoningTrace, ScoredTrace, TraceRecord, TraceSummary
from tunix_rt.traces.scoring import Criteria

router = APIRouter(prefix="/api/traces", tags=["traces"], route_class=ApiRoute)

NOT_FOUND = error_responses(404)


class BatchCreated(BaseModel):
    created_count: int
    traces: list[TraceSummary]


class Pagination(BaseModel):
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; cost does not grow with depth."
    )


class TracePage(BaseModel):
    data: list[TraceSummary]
    pagination: Pagination


class ScoreRequest(BaseModel):
    criteria: Criteria = "baseline"


class ScoreResponse(BaseModel):
    trace_id: uuid.UUID
    score: float
    details: dict[str, Any]


class Comparison(BaseModel):
    base: ScoredTrace
    other: ScoredTrace


@router.post("", **created(TraceSummary, 400, 413))
async def create_trace(trace: ReasoningTrace, engine: Engine) -> TraceSummary:
    """Store one trace. Bodies over `TUNIX_RT_TRACE_MAX_BYTES` are refused with 413."""
    return await store.create_trace(engine, trace)


@router.post("/batch", **created(BatchCreated, 400, 413))
async def create_traces(
    traces: Annotated[list[ReasoningTrace], Body(min_length=1)],
    engine: Engine,
    settings: AppSettings,
) -> BatchCreated:
    """Store up to `TUNIX_RT_BATCH_MAX_ITEMS` (default 1,000) traces in one transaction.

    If any item is invalid nothing is stored, and the 422 lists every bad item by index and field.
    """
    summaries = await store.create_traces(engine, traces, max_items=settings.batch_max_items)
    return BatchCreated(created_count=len(summaries), traces=summaries)


@router.get("", response_model=TracePage)
async def list_traces(
    conn: Connection,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
) -> TracePage:
    """Newest first. Page with `offset`, or with `cursor` (keyset: same cost at any depth).

    Filters: `source` (`meta.source`), `created_after` (inclusive), `created_before`
    (exclusive), `q` (case-insensitive substring of the prompt).
    """
    page = await store.list_traces(
        conn,
        limit=limit,
        offset=offset,
        cursor=cursor,
        filters=store.TraceFilters(
            source=source,
            created_after=created_after,
            created_before=created_before,
            prompt_contains=q,
        ),
    )
    return TracePage(
        data=page.items,
        pagination=Pagination(
            limit=limit,
            offset=offset,
            next_offset=offset + limit if page.has_more and cursor is None else None,
            next_cursor=page.next_cursor,
        ),
    )


@router.get("/compare", response_model=Comparison, responses=NOT_FOUND)
async def compare_traces(base: uuid.UUID, other: uuid.UUID, conn: Connection) -> Comparison:
    """Two traces side by side, each with its baseline score."""
    scored_base, scored_other = await store.scored_pair(conn, base, other)
    return Comparison(base=scored_base, other=scored_other)


@router.get("/{trace_id}", response_model=TraceRecord, responses=NOT_FOUND)
async def get_trace(trace_id: uuid.UUID, conn: Connection) -> TraceRecord:
    """One trace with its full payload."""
    return await store.get_trace(conn, trace_id)


@router.delete("/{trace_id}", **NO_CONTENT, responses=NOT_FOUND)
async def delete_trace(trace_id: uuid.UUID, engine: Engine) -> Response:
    """Delete a trace and its scores."""
    await store.delete_trace(engine, trace_id)
    return no_content()


@router.post("/{trace_id}/score", **created(ScoreResponse, 400, 404, 413))
async def score_trace(trace_id: uuid.UUID, request: ScoreRequest, engine: Engine) -> ScoreResponse:
    """Score a trace and store the result (the latest score per criteria is kept)."""
    result = await store.score_and_store(engine, trace_id, request.criteria)
    return ScoreResponse(trace_id=trace_id, score=result.score, details=result.details)
