"""`/api/ungar/*` (High Card Duel, as in the original system) and `/api/generators/*`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.api.deps import Engine
from tunix_rt.api.responses import NDJSONResponse, created
from tunix_rt.api.route import ApiRoute
from tunix_rt.generators import (
    DEFAULT_SEED,
    describe_generators,
    service,
    ungar_status,
)
from tunix_rt.traces.export import trace_record_lines
from tunix_rt.traces.schema import ReasoningTrace
from tunix_rt.traces.store import TraceFilters

ungar_router = APIRouter(prefix="/api/ungar", tags=["ungar"], route_class=ApiRoute)
router = APIRouter(prefix="/api/generators", tags=["generators"], route_class=ApiRoute)

MAX_GENERATE_COUNT = 10_000
MAX_SEED = 2**32 - 1
EXPORT_DEFAULT_LIMIT = 1_000
EXPORT_MAX_LIMIT = 100_000
HIGH_CARD_DUEL = "high-card-duel"


class UngarStatus(BaseModel):
    available: bool = Field(description="True only when episodes are played through UNGAR.")
    version: str | None = Field(description="The installed UNGAR version, if any.")
    message: str = Field(description="Why UNGAR is or is not used.")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=MAX_GENERATE_COUNT, description="Traces to generate (1-10,000).")
    seed: int = Field(
        default=DEFAULT_SEED,
        ge=0,
        le=MAX_SEED,
        description="The same seed (and params) always gives the same traces.",
    )
    persist: bool = Field(
        default=True, description="Store the traces; false only returns the preview."
    )


class GeneratorRequest(GenerateRequest):
    params: dict[str, int | str] = Field(
        default_factory=dict, description="Generator parameters (see GET /api/generators)."
    )


class GenerateResponse(BaseModel):
    trace_ids: list[uuid.UUID] = Field(
        description="Ids of the stored traces in generation order; empty when persist is false."
    )
    preview: list[ReasoningTrace] = Field(
        description=f"The first {service.PREVIEW_COUNT} generated traces (full payloads)."
    )


class ParamInfo(BaseModel):
    name: str
    type: Literal["int", "str"]
    default: int | str
    description: str
    choices: list[str]
    minimum: int | None
    maximum: int | None


class GeneratorInfo(BaseModel):
    name: str
    description: str
    source: str = Field(description="The `meta.source` of its traces.")
    params: list[ParamInfo]


async def _generate(
    engine: AsyncEngine, name: str, request: GenerateRequest, params: Mapping[str, object]
) -> GenerateResponse:
    generated = await service.generate_traces(
        engine, name, request.count, request.seed, params=params, persist=request.persist
    )
    return GenerateResponse(trace_ids=generated.trace_ids, preview=generated.preview)


@ungar_router.get("/status", response_model=UngarStatus)
async def get_ungar_status() -> UngarStatus:
    """Whether High Card Duel episodes are played through UNGAR (always 200).

    UNGAR is optional; without it the built-in engine deals exactly the same cards.
    """
    available, version, message = ungar_status()
    return UngarStatus(available=available, version=version, message=message)


@ungar_router.post("/high-card-duel/generate", **created(GenerateResponse, 400, 413))
async def generate_high_card_duel(request: GenerateRequest, engine: Engine) -> GenerateResponse:
    """Generate High Card Duel traces (`meta.source` `ungar`) and store them unless `persist` is
    false. Episode i uses seed `seed + i`; episode seeds 1,000,000-1,999,999 are reserved for
    eval sets (422)."""
    return await _generate(engine, HIGH_CARD_DUEL, request, {})


@ungar_router.get(
    "/high-card-duel/export.jsonl",
    response_class=NDJSONResponse,
    responses={200: {"description": "One `trace`-format record per line (JSON Lines)."}},
)
async def export_high_card_duel(
    engine: Engine,
    limit: Annotated[int, Query(ge=1, le=EXPORT_MAX_LIMIT)] = EXPORT_DEFAULT_LIMIT,
) -> NDJSONResponse:
    """The stored High Card Duel traces (`meta.source` `ungar`), oldest first, at most `limit`
    (1-100,000, default 1,000), as `trace`-format JSON Lines
    (`{id, prompts, trace_steps, final_answer, metadata}`), streamed."""
    return NDJSONResponse(trace_record_lines(engine, TraceFilters(source="ungar"), limit))


@router.get("", response_model=list[GeneratorInfo])
async def list_generators() -> list[dict[str, Any]]:
    """Every registered generator with its params."""
    return describe_generators()


@router.post("/{name}/generate", **created(GenerateResponse, 400, 404, 413))
async def generate_traces(name: str, request: GeneratorRequest, engine: Engine) -> GenerateResponse:
    """Generate traces with any generator (`params` per GET /api/generators) and store them
    unless `persist` is false; an unknown generator is 404."""
    return await _generate(engine, name, request, request.params)
