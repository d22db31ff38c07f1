"""Run manifests and starting runs: validate a manifest against the database and the machine,
then queue it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.datasets.store import require_dataset
from tunix_rt.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    describe_validation_error,
)
from tunix_rt.evals.targets import first_without_expected_answer
from tunix_rt.runs import jobs, store
from tunix_rt.runs.availability import require_training_stack
from tunix_rt.runs.manifest import Hyperparameters, ManifestRequest, RunManifest
from tunix_rt.runs.paths import (
    LOG_FILE,
    ROLLOUTS_FILE,
    artifact_path,
    latest_step,
    list_artifacts,
    mode_checkpoints,
    output_dir,
    run_dir,
)
from tunix_rt.runs.schema import (
    ArtifactInfo,
    MetricPoint,
    Rollout,
    RolloutSample,
    RunAccepted,
    RunCurves,
    RunRecord,
    RunRequest,
    RunResumed,
    RunStatusView,
)
from tunix_rt.settings import Settings

#: The setting that confines `model.path` and `tokenizer.path` (Settings.models_dir).
MODELS_DIR_VARIABLE = "TUNIX_RT_MODELS_DIR"


async def sft_manifest(conn: AsyncConnection, request: ManifestRequest) -> RunManifest:
    """The run manifest of `POST /api/tunix/sft/manifest` and `tunix-rt manifest`, for a dataset
    that exists (and a run to start from that has a checkpoint)."""
    await require_dataset(conn, request.dataset_key)
    if request.init_from_run is not None:
        await run_to_start_from(conn, request.init_from_run)
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


def stored_manifest(run: RunRecord) -> RunManifest:
    """A stored run's manifest. One that this version cannot read (written by a version with
    fields it does not know, or edited in the database) is a 409 naming the run and the field."""
    try:
        return RunManifest.model_validate(run.manifest)
    except ValidationError as exc:
        raise ConflictError(
            f"run {run.id}: its stored manifest is not one this version reads "
            f"({describe_validation_error(exc)})"
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


def checkpoint_missing(run: RunRecord) -> str | None:
    """Why `run` has no checkpoint to evaluate or start from, or None when it has one (a
    succeeded run, or a cancelled one that saved a checkpoint)."""
    has_checkpoint = bool((run.result or {}).get("checkpoint_step"))
    if run.status == "succeeded" or (run.status == "cancelled" and has_checkpoint):
        return None
    reasons = {
        "queued": "it is queued and has no checkpoint yet",
        "running": "it is still training (wait until it has finished)",
        "failed": f"it failed ({run.error}) and has no checkpoint",
        "cancelled": "it was cancelled before it saved a checkpoint",
    }
    return reasons[run.status]


async def resume_run(
    engine: AsyncEngine, settings: Settings, run_id: uuid.UUID, *, pid: int | None = None
) -> RunResumed:
    """Queue a failed or cancelled run again (or, with `pid`, mark it running in that process,
    which executes it): in its own folder, it goes on from the latest checkpoint there (its
    metrics past that step are dropped, to be recorded again), or starts over when it saved
    none. A run marked running on this host whose process is gone (`tunix-rt train` killed,
    with no server to notice) is failed first, and resumed. 404 for an unknown run, 409 for one
    that is queued, running or succeeded, 503 without the training stack."""
    require_training_stack()
    async with engine.connect() as conn:
        run = await store.get_run(conn, run_id)
    if run.status == "running" and run.host == jobs.HOST and not jobs.process_alive(run.pid):
        await jobs.finish(engine, "run", run_id, "failed", error=jobs.PROCESS_GONE)
    async with engine.begin() as conn:
        run = await store.get_run(conn, run_id)
        if run.status not in store.RESUMABLE:
            raise ConflictError(
                f"run {run_id} is {run.status}: only a failed or cancelled run can be resumed"
            )
        manifest = stored_manifest(run)
        out = output_dir(settings.runs_dir, run_id, manifest.output.output_dir)
        step = await asyncio.to_thread(latest_step, mode_checkpoints(out, manifest.mode))
        if not await store.reopen_run(conn, run_id, after_step=step or 0, pid=pid):
            raise ConflictError(f"run {run_id} is being resumed by another request")
    status = "queued" if pid is None else "running"
    return RunResumed(run_id=run_id, status=status, from_step=step)


async def run_to_start_from(conn: AsyncConnection, run_id: uuid.UUID) -> RunRecord:
    """Run `run_id`, which a run is to start from: 404 for an unknown run, 409 for one without
    a checkpoint."""
    run = await store.get_run(conn, run_id)
    reason = checkpoint_missing(run)
    if reason is not None:
        raise ConflictError(f"model.init_from_run: run {run_id} cannot be started from: {reason}")
    return run


async def source_run_dir(
    conn: AsyncConnection, settings: Settings, manifest: RunManifest
) -> Path | None:
    """The output folder of the run that `model.init_from_run` names (None without one): 404 for
    an unknown run, 409 for one without a checkpoint, 422 for one whose local paths `local_paths`
    refuses now (its model is rebuilt from them)."""
    run_id = manifest.model.init_from_run
    if run_id is None:
        return None
    source = stored_manifest(await run_to_start_from(conn, run_id))
    try:
        local_paths(source, settings.models_dir)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"model.init_from_run: run {run_id} cannot be started from: {exc}",
            loc=("manifest_yaml", "model", "init_from_run"),
        ) from None
    return output_dir(settings.runs_dir, run_id, source.output.output_dir)


def local_paths(manifest: RunManifest, models_dir: Path | None) -> RunManifest:
    """`manifest` with its `model.path` and `tokenizer.path` absolute, a relative one taken
    relative to `models_dir` (TUNIX_RT_MODELS_DIR). With `models_dir` set, each must resolve
    (symlinks followed) inside it; without, a relative one is refused and an absolute one may
    be anywhere. 422 naming the field otherwise."""
    update: dict[str, Any] = {}
    model_path = _local_path(manifest.model.path, models_dir, "model")
    if model_path != manifest.model.path:
        update["model"] = manifest.model.model_copy(update={"path": model_path})
    tokenizer = manifest.tokenizer
    if tokenizer is not None:
        tokenizer_path = _local_path(tokenizer.path, models_dir, "tokenizer")
        if tokenizer_path != tokenizer.path:
            update["tokenizer"] = tokenizer.model_copy(update={"path": tokenizer_path})
    return manifest.model_copy(update=update) if update else manifest


def _local_path(path: str | None, models_dir: Path | None, section: str) -> str | None:
    """`<section>.path` made absolute, or InvalidInputError (see `local_paths`)."""
    if path is None:
        return None
    field, loc = f"{section}.path", ("manifest_yaml", section, "path")
    given = Path(path)
    if models_dir is None:
        if not given.is_absolute():
            raise InvalidInputError(
                f"manifest {field}: {path!r} is relative, which is taken relative to "
                f"{MODELS_DIR_VARIABLE}; it is not set, so give an absolute path",
                loc=loc,
            )
        return path
    root = models_dir.resolve()
    joined = given if given.is_absolute() else root / given
    if not joined.resolve(strict=False).is_relative_to(root):
        raise InvalidInputError(
            f"manifest {field}: {path!r} must be inside {MODELS_DIR_VARIABLE} ({root}), "
            "symlinks followed",
            loc=loc,
        )
    return str(joined)


async def check_manifest(
    conn: AsyncConnection, settings: Settings, manifest: RunManifest
) -> RunManifest:
    """The manifest as it will run: its local paths checked and made absolute (`local_paths`,
    422), then what it needs of the database: its dataset (404); for `grpo`, `dpo` and `orpo`
    a starting run with a checkpoint, when it names one; for `grpo` an expected answer on every
    trace (422 naming the first without)."""
    manifest = local_paths(manifest, settings.models_dir)
    await require_dataset(conn, manifest.dataset.key)
    if manifest.mode == "sft":
        return manifest
    await source_run_dir(conn, settings, manifest)
    if manifest.mode != "grpo":
        return manifest
    lacking = await first_without_expected_answer(conn, manifest.dataset.key, None)
    if lacking is not None:
        raise InvalidInputError(
            f"trace {lacking} of dataset {manifest.dataset.key} has no meta.expected_answer: "
            "GRPO's rewards need the expected answer of every prompt",
            loc=("manifest_yaml", "dataset", "key"),
        )
    return manifest


async def submit(engine: AsyncEngine, settings: Settings, request: RunRequest) -> RunAccepted:
    """Validate everything a run needs; queue it unless it is a dry run."""
    runs_dir = settings.runs_dir
    manifest = manifest_of(request)
    async with engine.connect() as conn:
        manifest = await check_manifest(conn, settings, manifest)
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


async def run_rollouts(
    conn: AsyncConnection, runs_dir: Path, run_id: uuid.UUID, step: int | None = None
) -> RolloutSample:
    """The rollouts a GRPO run stored at `step` (default: the latest step that stored some),
    and every step that did; none for an SFT run. 404 for an unknown run or a step that
    stored none."""
    run = await store.get_run(conn, run_id)
    manifest = stored_manifest(run)
    path = output_dir(runs_dir, run_id, manifest.output.output_dir) / ROLLOUTS_FILE
    by_step = await asyncio.to_thread(_read_rollouts, path)
    steps = sorted(by_step)
    if step is not None and step not in by_step:
        shown = ", ".join(map(str, steps)) or "none"
        raise NotFoundError(f"run {run_id} stored no rollouts at step {step} (steps: {shown})")
    chosen = step if step is not None else (steps[-1] if steps else None)
    data = by_step.get(chosen, []) if chosen is not None else []
    return RolloutSample(run_id=run_id, steps=steps, step=chosen, data=data)


def _read_rollouts(path: Path) -> dict[int, list[Rollout]]:
    by_step: dict[int, list[Rollout]] = {}
    if not path.is_file():
        return by_step
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                rollout = Rollout.model_validate_json(line)
                by_step.setdefault(rollout.step, []).append(rollout)
    return by_step
