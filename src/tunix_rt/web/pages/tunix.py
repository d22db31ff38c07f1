"""`/tunix`: whether Tunix is installed, the `tunix_sft` export, and run manifests: generate one
from a dataset and hyperparameters, copy or download it, or start a run from it."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.datastructures import FormData

from tunix_rt.api.deps import AppSettings, Connection, Engine, wake_executor
from tunix_rt.api.responses import NDJSON
from tunix_rt.datasets import sft_export
from tunix_rt.datasets.schema import KEY_PATTERN
from tunix_rt.datasets.store import list_datasets
from tunix_rt.errors import InvalidInputError, NotFoundError
from tunix_rt.evals.evalsets import EVAL_SETS
from tunix_rt.evals.schema import EvaluationOptions
from tunix_rt.runs import service as runs_service
from tunix_rt.runs.availability import tunix_status
from tunix_rt.runs.manifest import (
    ManifestRequest,
    ModelSource,
    RunManifest,
    TrainingSection,
    hyperparameter_defaults,
)
from tunix_rt.runs.schema import RunRequest
from tunix_rt.web.fields import number_input
from tunix_rt.web.forms import field_errors, read_form
from tunix_rt.web.page import page_router
from tunix_rt.web.render import attachment, render

router = page_router()

#: The manifest form's model: the form makes a manifest for the tiny model (built in code).
MODEL_SOURCE: ModelSource = "tiny"
DEFAULT_MODEL_ID = "tunix-rt/tiny"
DEFAULT_OUTPUT_DIR = "model"
_TRAINING_DEFAULTS = hyperparameter_defaults(MODEL_SOURCE)
#: The hyperparameters, bounded and defaulted as the manifest's training section is.
HYPERPARAMETERS = (
    number_input(
        TrainingSection,
        "learning_rate",
        "Learning rate",
        default=_TRAINING_DEFAULTS["learning_rate"],
    ),
    number_input(TrainingSection, "num_epochs", "Epochs", default=_TRAINING_DEFAULTS["num_epochs"]),
    number_input(
        TrainingSection, "batch_size", "Batch size", default=_TRAINING_DEFAULTS["batch_size"]
    ),
    number_input(
        TrainingSection,
        "max_seq_length",
        "Max sequence length",
        default=_TRAINING_DEFAULTS["max_seq_length"],
    ),
)
#: What the evaluation queued after the run generates, bounded as EvaluationOptions is.
EVALUATION_FIELDS = (
    number_input(EvaluationOptions, "limit", "Items (first N)", name="evaluation.limit"),
    number_input(
        EvaluationOptions, "max_new_tokens", "Max new tokens", name="evaluation.max_new_tokens"
    ),
)
_ID_SEPARATORS = re.compile(r"[\s,]+")


class ManifestForm(ManifestRequest):
    """The manifest form: the API's manifest request, and the evaluation the run queues when
    it succeeds (the manifest's `evaluation` section)."""

    evaluation: EvaluationOptions | None = None

    def manifest(self) -> RunManifest:
        made = super().manifest()
        return made.model_copy(update={"evaluation": self.evaluation})


class ExportFields(BaseModel):
    """The export form: a dataset, or trace ids (one per line, or separated by commas)."""

    model_config = ConfigDict(extra="forbid")

    dataset_key: Annotated[str | None, Field(pattern=KEY_PATTERN)] = None
    trace_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=100_000)
    limit: int | None = Field(default=None, ge=1, le=10_000_000)

    @field_validator("trace_ids", mode="before")
    @classmethod
    def _ids(cls, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        words = [word for word in _ID_SEPARATORS.split(text) if word]
        for word in words:
            try:
                uuid.UUID(word)
            except ValueError:
                raise ValueError(f"{word!r} is not a trace id") from None
        return words or None

    @model_validator(mode="after")
    def _one_source(self) -> ExportFields:
        if (self.dataset_key is None) == (self.trace_ids is None):
            raise ValueError("choose a dataset or give trace ids (one of them)")
        return self


class ExportForm(BaseModel):
    """The export form's fields, named `export.*` in the page (the manifest form has its own
    dataset field), so that their errors are named alike."""

    export: ExportFields


#: The export's limit, bounded as the export form's model is.
EXPORT_LIMIT = number_input(ExportFields, "limit", "Limit", name="export.limit")
MANIFEST_FIELDS = ("dataset_key", "model_id", "output_dir", *(f.name for f in HYPERPARAMETERS))
EVALUATION_NAMES = ("evalset", "limit", "max_new_tokens")
EXPORT_FIELDS = ("dataset_key", "trace_ids", "limit")


def _given(form: FormData, names: tuple[str, ...], prefix: str = "") -> dict[str, Any]:
    """The fields `prefix + name` the form filled in, by name (an empty field is left out: it
    takes the model's default)."""
    values = {name: str(form.get(prefix + name, "")).strip() for name in names}
    return {name: value for name, value in values.items() if value}


def _manifest_form(form: FormData) -> ManifestForm:
    values = _given(form, MANIFEST_FIELDS)
    if form.get("evaluation.evalset"):
        values["evaluation"] = _given(form, EVALUATION_NAMES, "evaluation.") | {
            "base": form.get("evaluation.base") == "on"
        }
    return ManifestForm.model_validate(values)


async def _page(
    request: Request,
    conn: Connection,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    manifest_yaml: str | None = None,
) -> Response:
    return render(
        request,
        "tunix/index.html",
        status_code=status_code,
        title="Tunix",
        tunix=tunix_status(),
        datasets=await list_datasets(conn),
        eval_sets=list(EVAL_SETS.values()),
        hyperparameters=HYPERPARAMETERS,
        evaluation_fields=EVALUATION_FIELDS,
        export_limit=EXPORT_LIMIT,
        ids_default=sft_export.TRACE_IDS_DEFAULT_LIMIT,
        values={"model_id": DEFAULT_MODEL_ID, "output_dir": DEFAULT_OUTPUT_DIR, **(values or {})},
        errors=errors or {},
        manifest_yaml=manifest_yaml,
    )


@router.get("/tunix")
async def tunix_page(request: Request, conn: Connection) -> Response:
    return await _page(request, conn)


@router.post("/tunix/export")
async def export(request: Request, conn: Connection, engine: Engine) -> Response:
    """The `tunix_sft` JSONL of a dataset or of the given traces, as a download (what
    `POST /api/tunix/sft/export` streams)."""
    form = await read_form(request)
    shown = dict(form.items())
    try:
        fields = ExportForm.model_validate({"export": _given(form, EXPORT_FIELDS, "export.")})
    except ValidationError as exc:
        return await _page(request, conn, status_code=422, errors=field_errors(exc), values=shown)
    chosen = fields.export
    try:
        stream = await sft_export.sft_export(
            engine, dataset_key=chosen.dataset_key, trace_ids=chosen.trace_ids, limit=chosen.limit
        )
    except NotFoundError as exc:
        where = "export.dataset_key" if chosen.dataset_key else "export.trace_ids"
        return await _page(request, conn, status_code=422, errors={where: str(exc)}, values=shown)
    name = chosen.dataset_key or "traces"
    return StreamingResponse(
        stream,
        media_type=NDJSON,
        headers={"Content-Disposition": f'attachment; filename="{name}.tunix_sft.jsonl"'},
    )


@router.post("/tunix/manifest")
async def generate_manifest(request: Request, conn: Connection) -> Response:
    """The manifest of the form, shown as YAML (what `POST /api/tunix/sft/manifest` answers),
    with the buttons that copy it, download it, or start a run from it."""
    form = await read_form(request)
    shown = dict(form.items())
    try:
        manifest = await runs_service.sft_manifest(conn, _manifest_form(form))
    except ValidationError as exc:
        return await _page(request, conn, status_code=422, errors=field_errors(exc), values=shown)
    except NotFoundError as exc:
        errors = {"dataset_key": str(exc)}
        return await _page(request, conn, status_code=422, errors=errors, values=shown)
    return await _page(request, conn, values=shown, manifest_yaml=manifest.to_yaml())


@router.post("/tunix/manifest/download")
async def download_manifest(request: Request) -> Response:
    """The manifest the page shows, as a `.yaml` download."""
    form = await read_form(request)
    manifest = runs_service.parse_manifest(str(form.get("manifest_yaml", "")))
    return attachment(manifest.to_yaml(), f"{manifest.dataset.key}-run.yaml", "application/yaml")


@router.post("/tunix/runs")
async def start_run(
    request: Request, conn: Connection, engine: Engine, settings: AppSettings
) -> Response:
    """Queue a run of the manifest the page shows (as `POST /api/tunix/run` does) and go to
    its page."""
    form = await read_form(request)
    text = str(form.get("manifest_yaml", ""))
    try:
        accepted = await runs_service.submit(engine, settings, RunRequest(manifest_yaml=text))
    except (ValidationError, InvalidInputError) as exc:
        errors = {"manifest_yaml": next(iter(field_errors(exc).values()))}
        return await _page(
            request, conn, status_code=422, errors=errors, manifest_yaml=text or None
        )
    wake_executor(request)
    return RedirectResponse(f"/runs/{accepted.run_id}", status_code=303)
