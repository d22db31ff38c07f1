"""`/generate`: every registered generator with a form built from its `ParamSpec`s; Preview
shows the first traces without storing, Store stores them (as `POST /api/generators/{name}/
generate` does)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from tunix_rt.api.deps import Engine
from tunix_rt.api.routers.generators import MAX_GENERATE_COUNT, MAX_SEED, GenerateRequest
from tunix_rt.generators import (
    DEFAULT_SEED,
    GENERATORS,
    GeneratorError,
    GeneratorSpec,
    get_generator,
    service,
)
from tunix_rt.traces.schema import ReasoningTrace
from tunix_rt.web.forms import field_errors, read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import render

router = page_router()

#: Form fields named `params.<name>` are the generator's parameters.
PARAM_PREFIX = "params."
DEFAULT_COUNT = 10


def param_fields(spec: GeneratorSpec) -> list[dict[str, Any]]:
    """The form field of each of the generator's parameters, from its `ParamSpec`: the spec's
    own description (type, default, choices, range) with the field's name and its options."""
    return [
        {
            **param.describe(),
            "field": PARAM_PREFIX + param.name,
            "options": [(choice, choice) for choice in param.choices],
        }
        for param in spec.params
    ]


def _page(
    request: Request,
    name: str | None,
    *,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    preview: list[ReasoningTrace] | None = None,
    requested: int | None = None,
    stored: int | None = None,
    ids: list[uuid.UUID] | None = None,
) -> Response:
    spec = get_generator(name) if name else next(iter(GENERATORS.values()))
    return render(
        request,
        "generate/generate.html",
        status_code=status_code,
        title="Generate traces",
        generators=list(GENERATORS.values()),
        spec=spec,
        params=param_fields(spec),
        values=values or {"count": DEFAULT_COUNT, "seed": DEFAULT_SEED},
        errors=errors or {},
        preview=preview,
        requested=requested,
        stored=stored,
        ids=ids or [],
        max_count=MAX_GENERATE_COUNT,
        max_seed=MAX_SEED,
        preview_count=service.PREVIEW_COUNT,
    )


@router.get("/generate")
async def generate_form(
    request: Request,
    name: Annotated[str | None, Query(max_length=100)] = None,
    stored: Annotated[int | None, Query(ge=0)] = None,
    id: Annotated[list[uuid.UUID] | None, Query()] = None,
) -> Response:
    return _page(request, name, stored=stored, ids=id)


@router.post("/generate")
async def generate(request: Request, engine: Engine) -> Response:
    form = await read_form(request)
    name = str(form.get("name", ""))
    spec = get_generator(name)
    values = {key: str(value) for key, value in form.multi_items() if key != "csrf_token"}
    params = {
        key.removeprefix(PARAM_PREFIX): value
        for key, value in values.items()
        if key.startswith(PARAM_PREFIX)
    }
    store = values.get("action") == "store"
    try:
        checked = GenerateRequest.model_validate(
            {"count": values.get("count"), "seed": values.get("seed"), "persist": store}
        )
        generated = await service.generate_traces(
            engine, spec.name, checked.count, checked.seed, params=params, persist=store
        )
    except (ValidationError, GeneratorError) as exc:
        return _page(request, name, status_code=422, values=values, errors=field_errors(exc))
    if not store:
        return _page(
            request, name, values=values, preview=generated.preview, requested=checked.count
        )
    query = {
        "name": spec.name,
        "stored": len(generated.trace_ids),
        "id": generated.trace_ids[: service.PREVIEW_COUNT],
    }
    return RedirectResponse(f"/generate?{urlencode(query, doseq=True)}", status_code=303)
