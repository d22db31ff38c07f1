"""`/api/tunix`: status, SFT export and run manifests."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from tunix_rt.api.deps import Connection, Engine
from tunix_rt.api.errors import error_responses
from tunix_rt.api.responses import NDJSON, created
from tunix_rt.api.route import ApiRoute
from tunix_rt.datasets import sft_export as service
from tunix_rt.datasets.schema import KEY_PATTERN
from tunix_rt.runs import service as runs_service
from tunix_rt.runs.availability import TunixStatus, tunix_status
from tunix_rt.runs.manifest import ManifestRequest

router = APIRouter(prefix="/api/tunix", tags=["tunix"], route_class=ApiRoute)


class SftExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_key: Annotated[str | None, Field(pattern=KEY_PATTERN)] = None
    trace_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100_000)
    limit: int | None = Field(
        default=None,
        ge=1,
        le=10_000_000,
        description="At most this many records; default: the whole dataset, or the first "
        f"{service.TRACE_IDS_DEFAULT_LIMIT} of `trace_ids`.",
    )


class ManifestResponse(BaseModel):
    manifest_yaml: str
    dataset_key: str
    model_id: str
    format: str = "tunix_sft"
    message: str


@router.get("/status", response_model=TunixStatus)
async def get_status() -> TunixStatus:
    """Whether Tunix is installed (found without importing JAX). Artifacts never need it."""
    return tunix_status()


@router.post(
    "/sft/export",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}}, **error_responses(400, 404, 413)},
)
async def sft_export(request: SftExportRequest, engine: Engine) -> StreamingResponse:
    """`tunix_sft` NDJSON of a dataset (in manifest order) or of the given traces (in order)."""
    stream = await service.sft_export(
        engine, dataset_key=request.dataset_key, trace_ids=request.trace_ids, limit=request.limit
    )
    return StreamingResponse(stream, media_type=NDJSON)


@router.post("/sft/manifest", **created(ManifestResponse, 400, 404, 409, 413))
async def sft_manifest(request: ManifestRequest, conn: Connection) -> ManifestResponse:
    """A run manifest (YAML) for a dataset; the training runner accepts it unchanged."""
    manifest = await runs_service.sft_manifest(conn, request)
    return ManifestResponse(
        manifest_yaml=manifest.to_yaml(),
        dataset_key=request.dataset_key,
        model_id=request.model_id,
        format=manifest.dataset.format,
        message=f"Manifest for dataset {request.dataset_key}; run it with `tunix-rt train`.",
    )
