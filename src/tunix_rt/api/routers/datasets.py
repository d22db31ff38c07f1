"""`/api/datasets`: build, list, show, export and delete datasets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from tunix_rt.api import responses
from tunix_rt.api.deps import AppSettings, Connection, Engine
from tunix_rt.api.errors import error_responses
from tunix_rt.api.responses import NDJSON, NO_CONTENT, created, no_content
from tunix_rt.api.route import ApiRoute
from tunix_rt.datasets import builder, service, store
from tunix_rt.datasets.schema import (
    KEY_PATTERN,
    DatasetBuildRequest,
    DatasetBuilt,
    DatasetManifest,
    DatasetSummary,
)
from tunix_rt.formats import ExportFormat

router = APIRouter(prefix="/api/datasets", tags=["datasets"], route_class=ApiRoute)
DatasetKeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="`{name}-{version}`")]


class DatasetList(BaseModel):
    data: list[DatasetSummary]


@router.post("/build", **created(DatasetBuilt, 400, 404, 409, 413))
async def build_dataset(
    request: DatasetBuildRequest, engine: Engine, settings: AppSettings
) -> DatasetBuilt:
    """Select traces in SQL and freeze them, with stats and a manifest, as `{name}-{version}`.

    `random` needs a `seed`; `splits` (e.g. `{"train": 0.9, "val": 0.1}`) partition the
    selection reproducibly by the seed. An existing key is 409: datasets are immutable.
    `pairs_from_evaluation` selects among the traces a succeeded evaluation of a dataset scored
    (404: no such evaluation; 409: it has not succeeded; 422: it is of an eval set), for the
    `preference` export's pairs.
    """
    return await builder.build_dataset(engine, settings.data_dir, request)


@router.get("", response_model=DatasetList)
async def list_datasets(conn: Connection) -> DatasetList:
    """Every dataset, newest first."""
    return DatasetList(data=await store.list_datasets(conn))


@router.get("/{dataset_key}", response_model=DatasetManifest, responses=error_responses(404))
async def get_dataset(dataset_key: DatasetKeyPath, conn: Connection) -> DatasetManifest:
    """The manifest: filters, strategy, seed, ordered trace ids, stats, export sha256."""
    return await store.get_manifest(conn, dataset_key)


@router.delete("/{dataset_key}", **NO_CONTENT, responses=error_responses(404))
async def delete_dataset(
    dataset_key: DatasetKeyPath, engine: Engine, settings: AppSettings
) -> Response:
    """Delete a dataset (its traces stay) and its manifest file."""
    await service.delete(engine, settings.data_dir, dataset_key)
    return no_content()


@router.get(
    "/{dataset_key}/export.jsonl",
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {}}},
        304: {"description": "Not modified: the ETag in If-None-Match matches"},
        **error_responses(400, 404, 409),
    },
)
async def export_dataset(
    dataset_key: DatasetKeyPath,
    engine: Engine,
    settings: AppSettings,
    format: ExportFormat = ExportFormat.TRACE,
    split: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None,
    system: Annotated[str | None, Query(min_length=1, max_length=1000)] = None,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Stream the dataset as NDJSON in manifest order; the ETag identifies the exact bytes.

    A finished export is kept (see `export_cache_bytes`) and sent again, with its length, by
    later requests for the same bytes. 409: the evaluation a `preference` export pairs with is
    gone."""
    return await responses.dataset_export(
        engine, settings, dataset_key, format, split, system, if_none_match
    )
