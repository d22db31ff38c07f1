"""`/traces`: the list of traces with the API's filters, one trace with its scores, scoring and
deleting a trace."""

from __future__ import annotations

import uuid
from typing import Any, get_args
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tunix_rt.api.deps import Connection, Engine
from tunix_rt.clock import UserTime
from tunix_rt.errors import ConflictError, InvalidInputError
from tunix_rt.traces import store
from tunix_rt.traces.scoring import Criteria
from tunix_rt.web.forms import field_errors, read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()

CRITERIA: tuple[str, ...] = get_args(Criteria)
criteria_adapter: TypeAdapter[Criteria] = TypeAdapter(Criteria)
#: The list's query parameters, named as the API names them (`GET /api/traces`).
FILTER_PARAMS = ("source", "created_after", "created_before", "q")
PAGE_LIMIT = 50
#: A field of the POST /traces/{id}/delete form that only browsers without JavaScript send
#: (it sits in a <noscript>): they get the confirmation page instead of the script's dialog.
ASK_FIELD = "ask"


class TraceListQuery(BaseModel):
    """The list's query: the API's filters (a date or a time without an offset is UTC) and its
    keyset page."""

    model_config = ConfigDict(extra="ignore")

    source: str | None = Field(default=None, max_length=255)
    created_after: UserTime | None = None
    created_before: UserTime | None = None
    q: str | None = Field(default=None, max_length=1000)
    limit: int = Field(default=PAGE_LIMIT, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=200)

    def filters(self) -> store.TraceFilters:
        return store.TraceFilters(
            source=self.source,
            created_after=self.created_after,
            created_before=self.created_before,
            prompt_contains=self.q,
        )


def _given(request: Request) -> dict[str, str]:
    """The query's non-empty parameters, stripped (an empty field of the form means no filter)."""
    return {key: value.strip() for key, value in request.query_params.items() if value.strip()}


def _page_url(given: dict[str, str], cursor: str | None) -> str:
    """The list with the same filters and limit, at `cursor` (the first page without one)."""
    params = {key: value for key, value in given.items() if key not in ("cursor", "deleted")}
    if cursor is not None:
        params["cursor"] = cursor
    return f"/traces?{urlencode(params)}" if params else "/traces"


@router.get("/traces")
async def trace_list(
    request: Request, conn: Connection, deleted: uuid.UUID | None = None
) -> Response:
    given = _given(request)
    context: dict[str, Any] = {
        "title": "Traces",
        "given": given,
        "limit": given.get("limit", str(PAGE_LIMIT)),
        "deleted": deleted,
        "filtered": any(key in given for key in FILTER_PARAMS),
        "paged": "cursor" in given,
        "first_url": _page_url(given, None),
    }
    try:
        query = TraceListQuery.model_validate(given)
        page = await store.list_trace_overviews(
            conn, limit=query.limit, cursor=query.cursor, filters=query.filters()
        )
    except (ValidationError, InvalidInputError) as exc:
        return render(
            request,
            "traces/list.html",
            status_code=422,
            errors=field_errors(exc),
            traces=None,
            next_url=None,
            **context,
        )
    next_url = _page_url(given, page.next_cursor) if page.next_cursor else None
    return render(
        request, "traces/list.html", errors={}, traces=page.items, next_url=next_url, **context
    )


async def _detail(
    request: Request,
    conn: Connection,
    trace_id: uuid.UUID,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
    scored: str | None = None,
) -> Response:
    record = await store.get_trace(conn, trace_id)
    return render(
        request,
        "traces/detail.html",
        status_code=status_code,
        title=f"Trace {str(trace_id)[:8]}",
        record=record,
        trace=record.payload,
        scores=await store.stored_scores(conn, trace_id),
        holders=await store.datasets_holding(conn, trace_id),
        criteria=CRITERIA,
        ask_field=ASK_FIELD,
        errors=errors or {},
        conflict=conflict,
        scored=scored if scored in CRITERIA else None,
    )


@router.get("/traces/{trace_id}")
async def trace_detail(
    request: Request, trace_id: uuid.UUID, conn: Connection, scored: str | None = None
) -> Response:
    return await _detail(request, conn, trace_id, scored=scored)


@router.post("/traces/{trace_id}/score")
async def score_trace(
    request: Request, trace_id: uuid.UUID, engine: Engine, conn: Connection
) -> Response:
    form = await read_form(request)
    try:
        criteria = criteria_adapter.validate_python(form.get("criteria"))
        await store.score_and_store(engine, trace_id, criteria)
    except ValidationError:
        message = f"choose one of the criteria: {', '.join(CRITERIA)}"
        return await _detail(request, conn, trace_id, status_code=422, errors={"criteria": message})
    except InvalidInputError as exc:
        return await _detail(request, conn, trace_id, status_code=422, errors=field_errors(exc))
    return RedirectResponse(
        f"/traces/{trace_id}?scored={criteria}#score-{criteria}", status_code=303
    )


@router.get("/traces/{trace_id}/delete")
async def confirm_delete(request: Request, trace_id: uuid.UUID, conn: Connection) -> Response:
    record = await store.get_trace(conn, trace_id)
    return render(
        request,
        "traces/delete.html",
        title="Delete this trace?",
        record=record,
        holders=await store.datasets_holding(conn, trace_id),
    )


@router.post("/traces/{trace_id}/delete")
async def delete_trace(
    request: Request, trace_id: uuid.UUID, engine: Engine, conn: Connection
) -> Response:
    form = await read_form(request)
    if form.get(ASK_FIELD):
        return await confirm_delete(request, trace_id, conn)
    try:
        await store.delete_trace(engine, trace_id)
    except ConflictError:  # a dataset holds it: the detail page names the datasets
        return await _detail(request, conn, trace_id, status_code=409, conflict=True)
    return RedirectResponse(f"/traces?deleted={trace_id}", status_code=303)
