"""Evaluations as the API and the CLI use them: submit, read, store outputs as traces, gate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.errors import ConflictError, NotFoundError, TunixRTError
from tunix_rt.evals import store
from tunix_rt.evals.completions import parse_completion
from tunix_rt.evals.schema import (
    EvaluationAccepted,
    EvaluationItem,
    EvaluationOptions,
    EvaluationRecord,
    EvaluationStatus,
    TracesStored,
)
from tunix_rt.evals.targets import pin
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.availability import require_training_stack
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.runs.paths import EVALUATION_LOG_FILE, evaluation_dir
from tunix_rt.runs.schema import RunRecord
from tunix_rt.runs.service import checkpoint_missing, stored_manifest
from tunix_rt.traces.schema import ReasoningTrace, TraceStep
from tunix_rt.traces.store import create_traces

MODEL_SOURCE = "model"
MODEL_TRACE_VERSION = "1.0"
# Item meta keys that describe where an eval item came from, not the problem: left out of the
# meta of a trace made from a model's output (its own keys say where it came from).
_ITEM_ONLY_KEYS = frozenset({"source", "eval_set", "eval_index", "trace_id", "expected_answer"})


def check_evaluable(run: RunRecord) -> None:
    """ConflictError (409) with the reason when the run has no checkpoint to evaluate."""
    reason = checkpoint_missing(run)
    if reason is not None:
        raise ConflictError(f"run {run.id} cannot be evaluated: {reason}")


async def submit(
    engine: AsyncEngine,
    run_id: uuid.UUID,
    options: EvaluationOptions,
    *,
    status: EvaluationStatus = "queued",
    pid: int | None = None,
) -> EvaluationAccepted:
    """Check the run and the target, then queue the evaluation (or record it as running here,
    for a foreground evaluation)."""
    async with engine.connect() as conn:
        run = await runs_store.get_run(conn, run_id)
    check_evaluable(run)
    require_training_stack()
    target = await pin(engine, options)
    manifest = stored_manifest(run)
    evaluation_id = await store.create_evaluation(
        engine,
        run_id=run_id,
        model_id=manifest.model.model_id,
        options=options,
        target=target,
        status=status,
        pid=pid,
    )
    return EvaluationAccepted(
        evaluation_id=evaluation_id,
        status=status,
        run_id=run_id,
        target=target,
        message=f"evaluation {evaluation_id} of run {run_id} on {target.label} {status}",
    )


async def queue_after_run(
    engine: AsyncEngine, run_id: uuid.UUID, manifest: RunManifest, log: Callable[[str], None]
) -> uuid.UUID | None:
    """Queue the evaluation a succeeded run's manifest asks for; a target that cannot be pinned
    any more is logged, and the run stays succeeded."""
    assert manifest.evaluation is not None
    try:
        accepted = await submit(engine, run_id, manifest.evaluation)
    except Exception as exc:  # the run itself succeeded: say why, and keep it so
        reason = str(exc) if isinstance(exc, TunixRTError) else f"{type(exc).__name__}: {exc}"
        log(f"run {run_id}: the manifest's evaluation was not queued: {reason}")
        return None
    log(f"run {run_id}: {accepted.message}")
    return accepted.evaluation_id


async def latest(conn: AsyncConnection, run_id: uuid.UUID) -> EvaluationRecord:
    await runs_store.require_run(conn, run_id)
    found = await store.latest_for_run(conn, run_id)
    if found is None:
        raise NotFoundError(f"run {run_id} has no evaluation")
    return found


async def cancel(engine: AsyncEngine, evaluation_id: uuid.UUID) -> str:
    """`cancelled` for a queued evaluation, `cancelling` for a running one."""
    after = await jobs.request_cancel(engine, "evaluation", evaluation_id)
    return "cancelled" if after == "cancelled" else "cancelling"


def output_trace(
    record: EvaluationRecord, item: EvaluationItem, sample: dict[str, Any]
) -> ReasoningTrace | None:
    """A model's completion as a trace (None when it has no numbered steps or no answer)."""
    parsed = parse_completion(sample["completion"])
    if parsed.answer is None or not parsed.steps:
        return None
    meta = {key: value for key, value in item.meta.items() if key not in _ITEM_ONLY_KEYS}
    meta.update(
        source=MODEL_SOURCE,
        run_id=str(record.run_id),
        evaluation_id=str(record.id),
        eval_index=item.index,
        correct=bool(sample["correct"]),
        format_ok=bool(sample["format_ok"]),
        expected_answer=item.expected,
    )
    if "trace_id" in item.meta:
        meta["origin_trace_id"] = item.meta["trace_id"]
    return ReasoningTrace(
        trace_version=MODEL_TRACE_VERSION,
        prompt=item.prompt,
        steps=[
            TraceStep(i=i, type="reasoning", content=text) for i, text in enumerate(parsed.steps)
        ],
        final_answer=parsed.answer,
        meta=meta,
    )


async def store_outputs(engine: AsyncEngine, evaluation_id: uuid.UUID) -> TracesStored:
    """Store every completion of the trained model (every sample) as a trace, once."""
    async with engine.connect() as conn:
        record = await store.get_evaluation(conn, evaluation_id)
        if record.status != "succeeded":
            raise ConflictError(
                f"evaluation {evaluation_id} is {record.status}: only a succeeded evaluation's "
                "outputs can be stored"
            )
        if record.traces_stored is not None:
            raise ConflictError(
                f"evaluation {evaluation_id}'s outputs are already stored "
                f"({record.traces_stored} traces)"
            )
        items = await store.all_items(conn, evaluation_id)
    traces: list[ReasoningTrace] = []
    skipped = 0
    for item in items:
        for sample in item.samples or [_first_sample(item)]:
            trace = output_trace(record, item, sample)
            if trace is None:
                skipped += 1
            else:
                traces.append(trace)
    created = await create_traces(engine, traces) if traces else []
    await store.mark_traces_stored(engine, evaluation_id, len(created))
    return TracesStored(
        evaluation_id=evaluation_id,
        created_count=len(created),
        skipped=skipped,
        trace_ids=[summary.id for summary in created],
    )


def _first_sample(item: EvaluationItem) -> dict[str, Any]:
    return {
        "completion": item.completion,
        "answer": item.answer,
        "correct": item.correct,
        "format_ok": item.format_ok,
        "output_tokens": item.output_tokens,
    }


def gate(
    record: EvaluationRecord,
    *,
    fail_under: float | None = None,
    baseline: EvaluationRecord | None = None,
    max_drop: float | None = None,
) -> list[str]:
    """Why the evaluation falls short of a regression gate (empty: it passes)."""
    assert record.trained is not None
    accuracy = record.trained.accuracy
    failures = []
    if fail_under is not None and accuracy < fail_under:
        failures.append(f"accuracy {accuracy:.4f} is under --fail-under {fail_under:.4f}")
    if baseline is not None:
        if baseline.target != record.target:
            failures.append(
                f"baseline evaluation {baseline.id} is of {baseline.target.label} "
                f"({baseline.target.sha256[:12]}, {baseline.target.items} items), not of "
                f"{record.target.label} ({record.target.sha256[:12]}, {record.target.items} items)"
            )
        elif baseline.trained is None:
            failures.append(
                f"baseline evaluation {baseline.id} has no scorecard ({baseline.status})"
            )
        else:
            drop = baseline.trained.accuracy - accuracy
            allowed = max_drop or 0.0
            if drop > allowed:
                failures.append(
                    f"accuracy {accuracy:.4f} dropped {drop:.4f} from baseline {baseline.id} "
                    f"({baseline.trained.accuracy:.4f}), more than --max-drop {allowed:.4f}"
                )
    return failures


async def evaluation_log_path(
    conn: AsyncConnection, runs_dir: Path, evaluation_id: uuid.UUID
) -> Path:
    """Where an evaluation worker's log is (404 for an unknown evaluation)."""
    record = await store.get_evaluation(conn, evaluation_id)
    return evaluation_dir(runs_dir, record.run_id, evaluation_id) / EVALUATION_LOG_FILE
