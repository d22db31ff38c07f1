"""The datasets pages: the list, the build form, one dataset (manifest, statistics, step-count
histogram, exports, a `tunix_sft` preview) and its downloads."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import Header, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from tunix_rt.api import responses
from tunix_rt.api.deps import AppSettings, Connection, Engine
from tunix_rt.datasets import builder, service, store
from tunix_rt.datasets.export import first_records
from tunix_rt.datasets.schema import DEFAULT_LIMIT, KEY_PATTERN, DatasetManifest
from tunix_rt.errors import ConflictError, InvalidInputError
from tunix_rt.formats import FORMATS, ExportFormat
from tunix_rt.traces.scoring import Criteria
from tunix_rt.web.charts import bar_chart
from tunix_rt.web.forms import field_errors, read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.pages.dataset_form import build_request, form_values, place_errors
from tunix_rt.web.render import attachment, render

router = page_router()

DatasetKey = Annotated[str, Path(pattern=KEY_PATTERN)]
#: Records of the `tunix_sft` preview on a dataset's page.
PREVIEW_RECORDS = 3
#: Bars of the step-count histogram, at most.
HISTOGRAM_BINS = 20
CRITERIA_OPTIONS = [("", "no minimum"), *((name, name) for name in get_args(Criteria))]


@router.get("/datasets")
async def datasets(
    request: Request,
    conn: Connection,
    deleted: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
) -> Response:
    return render(
        request,
        "datasets/list.html",
        title="Datasets",
        datasets=await store.list_datasets_with_splits(conn),
        deleted=deleted,
    )


def _form_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    return render(
        request,
        "datasets/new.html",
        status_code=status_code,
        title="Build a dataset",
        values=values,
        errors=errors,
        default_limit=DEFAULT_LIMIT,
        criteria_options=CRITERIA_OPTIONS,
    )


@router.get("/datasets/new")
async def new_dataset(request: Request) -> Response:
    return _form_page(request, {"selection_strategy": "latest"}, {})


@router.post("/datasets/build")
async def build_dataset(request: Request, engine: Engine, settings: AppSettings) -> Response:
    values = form_values(await read_form(request))
    try:
        built = await builder.build_dataset(engine, settings.data_dir, build_request(values))
    except (ValidationError, InvalidInputError) as exc:
        return _form_page(request, values, place_errors(field_errors(exc)), 422)
    except ConflictError as exc:
        return _form_page(request, values, {"": str(exc)}, 409)
    target = f"/datasets/{built.dataset_key}?matching={built.matching_count}"
    return RedirectResponse(target, status_code=303)


@router.get("/datasets/{key}")
async def dataset(
    request: Request, key: DatasetKey, conn: Connection, matching: int | None = None
) -> Response:
    record = await store.dataset_record(conn, key)
    manifest = DatasetManifest.model_validate({**record["manifest"], "trace_ids": []})
    bins = await store.step_count_histogram(conn, key, max_bins=HISTOGRAM_BINS)
    chart = bar_chart(
        [(str(b.low) if b.low == b.high else f"{b.low}\u2013{b.high}", b.traces) for b in bins],
        y_label="traces",
        title=f"Traces of {key} by step count",
        testid="dataset:histogram",
    )
    return render(
        request,
        "datasets/show.html",
        title=key,
        manifest=manifest,
        manifest_json=manifest.model_dump_json(indent=2, exclude={"trace_ids"}),
        histogram=chart,
        formats=FORMATS,
        splits=sorted(manifest.stats.split_counts),
        preview=await first_records(conn, key, ExportFormat.TUNIX_SFT, PREVIEW_RECORDS),
        matching=matching,
    )


@router.get("/datasets/{key}/export")
async def export_dataset(
    key: DatasetKey,
    engine: Engine,
    settings: AppSettings,
    format: ExportFormat = ExportFormat.TRACE,
    split: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{0,32}$")] = None,
    system: Annotated[str | None, Query(max_length=1000)] = None,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The export as a download: the same bytes and ETag as `GET /api/datasets/{key}/export.jsonl`
    (an empty split or system field of the page's form is none)."""
    split, system = split or None, system or None
    name = f"{key}-{split}" if split else key
    return await responses.dataset_export(
        engine,
        settings,
        key,
        format,
        split,
        system,
        if_none_match,
        filename=f"{name}.{format.value}.jsonl",
    )


@router.get("/datasets/{key}/manifest.json")
async def manifest_download(key: DatasetKey, conn: Connection) -> Response:
    """The whole manifest, trace ids included, as `GET /api/datasets/{key}` gives it."""
    manifest = await store.get_manifest(conn, key)
    return attachment(
        manifest.model_dump_json(indent=2), f"{key}.manifest.json", "application/json"
    )


@router.post("/datasets/{key}/delete")
async def delete_dataset(
    request: Request, key: DatasetKey, engine: Engine, settings: AppSettings
) -> Response:
    await read_form(request)
    await service.delete(engine, settings.data_dir, key)
    return RedirectResponse(f"/datasets?deleted={key}", status_code=303)
