"""`/compare?base=ID&other=ID`: two traces side by side, their steps aligned row by row, with
their final answers and baseline scores (the API's `GET /api/traces/compare`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import BaseModel, ValidationError

from tunix_rt.api.deps import Connection
from tunix_rt.traces.comparison import StepRow, aligned_steps
from tunix_rt.traces.schema import ScoredTrace
from tunix_rt.traces.store import list_trace_overviews, scored_pair
from tunix_rt.web.forms import field_errors
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()

#: The latest traces offered to pick from.
LATEST = 20

IdParam = Annotated[str | None, Query(max_length=200)]


class Pick(BaseModel):
    """The two ids, as the API's compare takes them."""

    base: uuid.UUID
    other: uuid.UUID


@router.get("/compare")
async def compare(
    request: Request, conn: Connection, base: IdParam = None, other: IdParam = None
) -> Response:
    latest = (await list_trace_overviews(conn, limit=LATEST, prompt_chars=80)).items

    def page(
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        pair: tuple[ScoredTrace, ScoredTrace] | None = None,
        rows: list[StepRow] | None = None,
    ) -> Response:
        return render(
            request,
            "compare/compare.html",
            status_code=status_code,
            title="Compare traces",
            latest=latest,
            base=base,
            other=other,
            errors=errors or {},
            pair=pair,
            rows=rows or [],
        )

    given = {name: value for name, value in (("base", base), ("other", other)) if value}
    if not given:
        return page()
    try:
        pick = Pick.model_validate(given)
    except ValidationError as exc:
        return page(422, errors=field_errors(exc))
    pair = await scored_pair(conn, pick.base, pick.other)
    return page(pair=pair, rows=aligned_steps(pair[0].payload, pair[1].payload))
