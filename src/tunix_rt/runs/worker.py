"""Executing one run: export its dataset, train with Tunix, record metrics, logs and outcome.

`python -m tunix_rt.runs.worker run|evaluation ID` is the process the executor starts for a
claimed job; `train_here` records a run and executes it in the foreground (`tunix-rt train`;
`tunix-rt eval` runs `evals.job.execute_evaluation`). SIGTERM (or `stop`) ends the job cleanly
at its next step, as `cancelled`.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable
from contextlib import aclosing, suppress
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.atomic_file import atomic_file
from tunix_rt.datasets.export_cache import ExportCache
from tunix_rt.datasets.service import check_export, manifest_counts, open_export
from tunix_rt.db.engine import create_engine
from tunix_rt.disk_full import disk_full_error
from tunix_rt.runs import jobs, store
from tunix_rt.runs.foreground import Foreground, foreground_job
from tunix_rt.runs.jobs import Job, JobKind
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.runs.paths import (
    DATASET_FILE,
    EVAL_FILE,
    LOG_FILE,
    MANIFEST_FILE,
    latest_step,
    mode_checkpoints,
    output_dir,
    run_dir,
)
from tunix_rt.runs.schema import MetricPoint, RunStatus
from tunix_rt.runs.service import (
    check_manifest,
    local_paths,
    source_run_dir,
    stored_manifest,
)
from tunix_rt.settings import Settings, get_settings

if TYPE_CHECKING:
    from tunix_rt.training.runner import StepMetrics, TrainingResult

FLUSH_SECONDS = 0.5
T = TypeVar("T")


async def export_for_training(
    engine: AsyncEngine, cache: ExportCache, key: str, folder: Path, fmt: str = "tunix_sft"
) -> tuple[Path, Path | None]:
    """The dataset as JSONL in `fmt`: its `train`/`val` splits when it has both, else all. A
    `preference` export (DPO, ORPO) is of the train split only: those runs do not evaluate."""
    async with engine.connect() as conn:
        counts = await manifest_counts(conn, key)
    split_names: tuple[str | None, ...] = (None,)
    if counts.get("train") and counts.get("val"):
        split_names = ("train",) if fmt == "preference" else ("train", "val")
    paths: list[Path] = []
    for split in split_names:
        etag = (await check_export(engine, key, fmt, split, None)).etag
        stream = open_export(engine, cache, key, fmt, split, None, etag)
        path = folder / (EVAL_FILE if split == "val" else DATASET_FILE)
        with atomic_file(path) as out:  # whole or not at all
            async with aclosing(stream.chunks) as chunks:  # closed when a write fails
                async for chunk in chunks:  # cached or rendered alike
                    out.write(chunk)
        paths.append(path)
    return paths[0], paths[1] if len(paths) > 1 else None


async def execute_run(
    engine: AsyncEngine,
    settings: Settings,
    run_id: uuid.UUID,
    here: Foreground,
    *,
    on_step: Callable[[StepMetrics], None] | None = None,
    queue_evaluation: bool = True,
) -> RunStatus:
    """Run `run_id` (already marked running) to its end; returns the final status.

    `here.log` gets the run's log lines (a worker prints them: its output is the run's log
    file). A succeeded run whose manifest has an `evaluation` section queues it (unless
    `queue_evaluation` is false: `tunix-rt train` evaluates in the foreground instead).
    """
    pending: queue.SimpleQueue[MetricPoint] = queue.SimpleQueue()
    log = here.log
    try:
        async with engine.connect() as conn:
            record = await store.get_run(conn, run_id)
        # Checked again here: the paths' symlinks, or TUNIX_RT_MODELS_DIR, may have changed
        # since the run was queued.
        manifest = local_paths(stored_manifest(record), settings.models_dir)
        folder = run_dir(settings.runs_dir, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_file(folder / MANIFEST_FILE) as manifest_file:
            manifest_file.write(manifest.to_yaml().encode())
        log(f"run {run_id}: exporting dataset {manifest.dataset.key}")
        train_file, eval_file = await export_for_training(
            engine,
            ExportCache.from_settings(settings),
            manifest.dataset.key,
            folder,
            manifest.dataset.format,
        )
        out = output_dir(settings.runs_dir, run_id, manifest.output.output_dir)
        async with engine.connect() as conn:
            source = await source_run_dir(conn, settings, manifest)
        log(f"run {run_id}: training ({manifest.mode}) into {out}")
        resumed_from = latest_step(mode_checkpoints(out, manifest.mode))
        if resumed_from is not None:
            log(f"run {run_id}: going on from its checkpoint at step {resumed_from}")

        def step_hook(metrics: StepMetrics) -> None:
            pending.put(MetricPoint.model_validate(metrics, from_attributes=True))
            log(metrics.log_line())
            if on_step is not None:
                on_step(metrics)

        def train() -> TrainingResult:
            if manifest.mode == "grpo":
                from tunix_rt.training.grpo import run_grpo

                return run_grpo(
                    manifest,
                    dataset_jsonl=train_file,
                    output_dir=out,
                    source_dir=source,
                    on_step=step_hook,
                    should_stop=here.stop.is_set,
                )
            if manifest.mode in ("dpo", "orpo"):
                from tunix_rt.training.dpo import run_dpo

                return run_dpo(
                    manifest,
                    dataset_jsonl=train_file,
                    output_dir=out,
                    source_dir=source,
                    on_step=step_hook,
                    should_stop=here.stop.is_set,
                )
            from tunix_rt.training.runner import run_training

            return run_training(
                manifest,
                dataset_jsonl=train_file,
                output_dir=out,
                eval_jsonl=eval_file,
                on_step=step_hook,
                should_stop=here.stop.is_set,
            )

        result = await supervise(
            engine,
            Job("run", run_id, run_id),
            here,
            train,
            flush=lambda: _flush(engine, run_id, pending),
        )
        status: RunStatus = "cancelled" if result.status == "stopped" else "succeeded"
        # The log's last line first: a follower stops reading once the status is final.
        log(f"run {run_id}: {status} after {result.steps} steps (final loss {result.final_loss})")
        await jobs.finish(engine, "run", run_id, status, result=result.to_dict())
        if status == "succeeded" and manifest.evaluation is not None and queue_evaluation:
            from tunix_rt.evals.service import queue_after_run

            await queue_after_run(engine, run_id, manifest, log)
        return status
    except Exception as exc:
        return await record_failure(
            engine, "run", run_id, here, exc, flush=lambda: _flush(engine, run_id, pending)
        )


async def train_here(
    engine: AsyncEngine,
    settings: Settings,
    manifest: RunManifest,
    *,
    on_start: Callable[[uuid.UUID, Path], None] | None = None,
    on_step: Callable[[StepMetrics], None] | None = None,
) -> tuple[uuid.UUID, RunStatus]:
    """Record `manifest` as a run of this process and execute it here; Ctrl-C cancels it cleanly.

    `on_start` gets the run's id and folder once it is recorded. The manifest's evaluation, if
    any, is not queued: the caller runs it in the foreground too.
    """
    async with engine.connect() as conn:
        manifest = await check_manifest(conn, settings, manifest)
    run_id = await store.create_run(
        engine,
        dataset_key=manifest.dataset.key,
        manifest=manifest.model_dump(mode="json"),
        status="running",
        pid=os.getpid(),
    )
    return run_id, await execute_here(engine, settings, run_id, on_start, on_step)


async def execute_here(
    engine: AsyncEngine,
    settings: Settings,
    run_id: uuid.UUID,
    on_start: Callable[[uuid.UUID, Path], None] | None = None,
    on_step: Callable[[StepMetrics], None] | None = None,
) -> RunStatus:
    """Execute run `run_id`, marked running as this process, here (`train_here`; a resumed run,
    `resume_run` with this process's pid); Ctrl-C cancels it cleanly."""
    folder = run_dir(settings.runs_dir, run_id)
    if on_start is not None:
        on_start(run_id, folder)
    # What the libraries print as they fail goes to the run's log, as a worker's does.
    with foreground_job(folder / LOG_FILE, capture_stderr=True) as here:
        return await execute_run(
            engine, settings, run_id, here, on_step=on_step, queue_evaluation=False
        )


async def supervise(
    engine: AsyncEngine,
    job: Job,
    here: Foreground,
    work: Callable[[], T],
    *,
    flush: Callable[[], Awaitable[None]],
) -> T:
    """Run a job's `work` on a thread; every FLUSH_SECONDS store what it reported (`flush`) and
    turn a cancel request into `here.stop`, which the work polls."""
    task = asyncio.create_task(asyncio.to_thread(work))
    while not task.done():
        await asyncio.wait({task}, timeout=FLUSH_SECONDS)
        await flush()
        if not here.stop.is_set() and await jobs.cancel_requested(engine, job.kind, job.id):
            here.log(f"{job.kind} {job.id}: cancel requested")
            here.stop.set()
    result = task.result()
    await flush()
    return result


async def record_failure(
    engine: AsyncEngine,
    kind: JobKind,
    job_id: uuid.UUID,
    here: Foreground,
    exc: Exception,
    *,
    flush: Callable[[], Awaitable[None]],
) -> RunStatus:
    """End a job that raised `exc`: log the traceback, store what it had reported (`flush`),
    and mark it failed with the exception as its error (a full disk's in one line, as
    `DiskFullError` words it). The last log line is written before the status (as execute_run
    does), and a log that cannot be written (the same full disk) does not keep the job from
    being marked failed. Returns "failed"."""
    with suppress(OSError):
        here.log("".join(traceback.format_exception(exc)))
    with suppress(Exception):  # the metrics may not fit either; the outcome must be stored
        await flush()
    full = disk_full_error(exc)
    message = str(full) if full is not None else f"{type(exc).__name__}: {exc}".strip()
    with suppress(OSError):
        here.log(f"{kind} {job_id}: failed: {message}")
    await jobs.finish(engine, kind, job_id, "failed", error=message)
    return "failed"


async def _flush(
    engine: AsyncEngine, run_id: uuid.UUID, pending: queue.SimpleQueue[MetricPoint]
) -> None:
    points = []
    while not pending.empty():
        points.append(pending.get_nowait())
    await store.add_metrics(engine, run_id, points)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    kind, job_id = args[0], uuid.UUID(args[1])
    settings = get_settings()

    async def go() -> str:
        with foreground_job(None, signals=(signal.SIGTERM, signal.SIGINT)) as here:
            engine = create_engine(settings.database_url)
            try:
                if kind == "evaluation":
                    from tunix_rt.evals.job import execute_evaluation

                    return await execute_evaluation(engine, settings, job_id, here)
                return await execute_run(engine, settings, job_id, here)
            finally:
                await engine.dispose()

    status = asyncio.run(go())
    return 0 if status in ("succeeded", "cancelled") else 1


if __name__ == "__main__":
    raise SystemExit(main())
