"""Run manifests and starting runs: validate a manifest against the database and the machine,
then queue it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.datasets.store import require_dataset
from tunix_rt.errors import InvalidInputError
from tunix_rt.runs import store
from tunix_rt.runs.availability import require_training_stack
from tunix_rt.runs.manifest import Hyperparameters, ManifestRequest, RunManifest
from tunix_rt.runs.paths import LOG_FILE, artifact_path, list_artifacts, run_dir
from tunix_rt.runs.schema import (
    ArtifactInfo,
    MetricPoint,
    RunAccepted,
    RunCurves,
    RunRequest,
    RunStatusView,
)


async def sft_manifest(conn: AsyncConnection, request: ManifestRequest) -> RunManifest:
    """The run manifest of `POST /api/tunix/sft/manifest` and `tunix-rt manifest`, for a dataset
    that exists."""
    await require_dataset(conn, request.dataset_key)
    return request.manifest()


def parse_manifest(text: str) -> RunManifest:
    """A manifest from YAML text; 422 naming the field for anything invalid."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(
            f"manifest is not valid YAML: {exc}", loc=("manifest_yaml",)
        ) from None
    try:
        return RunManifest.model_validate(loaded)
    except ValidationError as exc:
        raise InvalidInputError.from_validation_error(
            exc, within=("manifest_yaml",), what="manifest"
        ) from None


def manifest_of(request: RunRequest) -> RunManifest:
    if request.manifest_yaml is not None:
        return parse_manifest(request.manifest_yaml)
    assert request.dataset_key is not None and request.model_id is not None
    try:
        made = ManifestRequest(
            dataset_key=request.dataset_key,
            model_id=request.model_id,
            output_dir=request.output_dir or "model",
            **request.model_dump(include=set(Hyperparameters.model_fields)),
        )
    except ValidationError as exc:
        raise InvalidInputError.from_validation_error(exc) from None
    return made.manifest()


async def submit(engine: AsyncEngine, runs_dir: Path, request: RunRequest) -> RunAccepted:
    """Validate everything a run needs; queue it unless it is a dry run."""
    manifest = manifest_of(request)
    async with engine.connect() as conn:
        await require_dataset(conn, manifest.dataset.key)
    require_training_stack()
    manifest_yaml = manifest.to_yaml()
    if request.dry_run:
        return RunAccepted(
            run_id=None,
            status="validated",
            dataset_key=manifest.dataset.key,
            output_dir=str(runs_dir / "<run id>" / manifest.output.output_dir),
            manifest_yaml=manifest_yaml,
            message="dry run: the manifest, dataset, output folder and training stack are fine",
        )
    run_id = await store.create_run(
        engine, dataset_key=manifest.dataset.key, manifest=manifest.model_dump(mode="json")
    )
    return RunAccepted(
        run_id=run_id,
        status="queued",
        dataset_key=manifest.dataset.key,
        output_dir=str(run_dir(runs_dir, run_id) / manifest.output.output_dir),
        manifest_yaml=manifest_yaml,
        message=f"run {run_id} queued",
    )


# --- reading one run -----------------------------------------------------------------------


async def run_status(conn: AsyncConnection, run_id: uuid.UUID) -> RunStatusView:
    """A run's status with its last step and loss (404 for an unknown run)."""
    run = await store.get_run(conn, run_id)
    last = await store.last_metric(conn, run_id)
    return RunStatusView(
        id=run.id,
        status=run.status,
        error=run.error,
        last_step=None if last is None else last.step,
        last_loss=None if last is None else last.loss,
    )


async def run_metrics(conn: AsyncConnection, run_id: uuid.UUID) -> list[MetricPoint]:
    """Every recorded step of a run, in order (404 for an unknown run)."""
    await store.require_run(conn, run_id)
    return await store.get_metrics(conn, run_id)


#: The most steps a chart of a run draws (`run_curves`); longer runs are thinned evenly.
CURVE_POINTS = 400


async def run_curves(
    conn: AsyncConnection, run_id: uuid.UUID, max_points: int = CURVE_POINTS
) -> RunCurves:
    """A run's loss, eval loss, learning rate and tokens/s as chart series, at most
    `max_points` steps each, and its last step (404 for an unknown run)."""
    await store.require_run(conn, run_id)
    return await store.metric_curves(conn, run_id, max_points)


async def run_log_path(conn: AsyncConnection, runs_dir: Path, run_id: uuid.UUID) -> Path:
    """Where a run's log is (404 for an unknown run; the file may not exist yet)."""
    await store.require_run(conn, run_id)
    return run_dir(runs_dir, run_id) / LOG_FILE


async def run_artifacts(
    conn: AsyncConnection, runs_dir: Path, run_id: uuid.UUID
) -> list[ArtifactInfo]:
    """Every file under a run's folder (404 for an unknown run)."""
    await store.require_run(conn, run_id)
    return await asyncio.to_thread(list_artifacts, runs_dir, run_id)


async def run_artifact(conn: AsyncConnection, runs_dir: Path, run_id: uuid.UUID, name: str) -> Path:
    """One artifact's path; a name that leaves the run's folder is 404."""
    await store.require_run(conn, run_id)
    return artifact_path(runs_dir, run_id, name)
