"""Executing one evaluation: load the pinned items, generate and score with the trained model
(and the base), store the items as they are scored, and record the scorecards.

Runs in an evaluation worker process (`python -m tunix_rt.runs.worker evaluation ID`) or in the
foreground (`tunix-rt eval`, through `evaluate_here`). The generation itself
(`training.evaluate`) imports JAX; this module
does not until an evaluation starts.
"""

from __future__ import annotations

import functools
import os
import queue
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.evals import store
from tunix_rt.evals.evalsets import get_eval_set
from tunix_rt.evals.schema import (
    EvaluationAccepted,
    EvaluationOptions,
    EvaluationRecord,
    Scorecard,
    Subject,
)
from tunix_rt.evals.scoring import ScoredItem, delta, scorecard
from tunix_rt.evals.targets import EvalItem, load_items
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.foreground import Foreground, foreground_job
from tunix_rt.runs.jobs import Job
from tunix_rt.runs.paths import EVALUATION_LOG_FILE, evaluation_dir, output_dir
from tunix_rt.runs.schema import RunStatus
from tunix_rt.runs.service import local_paths, stored_manifest
from tunix_rt.runs.worker import record_failure, supervise
from tunix_rt.settings import Settings


@dataclass(frozen=True)
class Progress:
    """What a foreground evaluation shows after each batch."""

    subject: Subject
    done: int
    total: int
    correct: int  # of the samples scored so far
    samples: int
    seconds: float


def group_keys(record: EvaluationRecord) -> tuple[str, ...]:
    """The breakdown keys: the request's, else the eval set's own (none for a dataset)."""
    if record.options.group_by is not None:
        return tuple(record.options.group_by)
    if record.target.kind == "evalset":
        return get_eval_set(record.target.name).group_by
    return ()


def item_row(
    evaluation_id: uuid.UUID, subject: Subject, item: EvalItem, scored: ScoredItem
) -> dict[str, Any]:
    first = scored.first
    return {
        "evaluation_id": evaluation_id,
        "subject": subject,
        "idx": item.index,
        "prompt": item.question,
        "expected": item.expected,
        "completion": first.completion,
        "answer": first.answer,
        "correct": first.correct,
        "format_ok": first.format_ok,
        "output_tokens": first.output_tokens,
        "samples": [s.to_dict() for s in scored.samples] if len(scored.samples) > 1 else None,
        "meta": item.meta,
    }


async def execute_evaluation(
    engine: AsyncEngine,
    settings: Settings,
    evaluation_id: uuid.UUID,
    here: Foreground,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunStatus:
    """Run `evaluation_id` (already marked running) to its end, logging to `here.log`; returns
    the final status."""
    pending: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
    name = f"evaluation {evaluation_id}"
    log = here.log

    async def flush() -> None:
        rows = []
        while not pending.empty():
            rows.append(pending.get_nowait())
        await store.add_items(engine, rows)

    try:
        async with engine.connect() as conn:
            record = await store.get_evaluation(conn, evaluation_id)
            run = await runs_store.get_run(conn, record.run_id)
        manifest = stored_manifest(run)
        local_paths(manifest, settings.models_dir)  # a local model is read again from model.path
        out = output_dir(settings.runs_dir, run.id, manifest.output.output_dir)
        items = await load_items(engine, record.target)
        keys = group_keys(record)
        log(f"{name}: {len(items)} items of {record.target.label} ({record.target.sha256[:12]})")

        from tunix_rt.training.evaluate import evaluate_subject

        cards: dict[Subject, Scorecard] = {}
        subjects: tuple[Subject, ...] = ("trained", "base") if record.options.base else ("trained",)
        for subject in subjects:
            emit = _reporter(evaluation_id, subject, len(items), pending, on_progress, log)
            log(f"{name}: generating with the {subject} model")
            result = await supervise(
                engine,
                Job("evaluation", evaluation_id, run.id),
                here,
                functools.partial(
                    evaluate_subject,
                    out,
                    subject,
                    items,
                    record.options,
                    keys,
                    emit=emit,
                    should_stop=here.stop.is_set,
                ),
                flush=flush,
            )
            if result.stopped:
                # The last log line comes before the status, so a follower that stops at the
                # status has read it.
                log(f"{name}: cancelled after {len(result.items)} {subject} items")
                await jobs.finish(
                    engine, "evaluation", evaluation_id, "cancelled", error="cancelled"
                )
                return "cancelled"
            cards[subject] = scorecard(
                result.items,
                group_keys=keys,
                generation_seconds=result.generation_seconds,
                wall_seconds=result.wall_seconds,
            )
            card = cards[subject]
            log(
                f"{name}: {subject}: accuracy {card.accuracy:.4f} "
                f"[{card.accuracy_low:.4f}, {card.accuracy_high:.4f}], "
                f"format {card.format_rate:.4f}, {card.tokens_per_second:,.0f} tokens/s"
            )
        base = cards.get("base")
        change = None if base is None else delta(cards["trained"], base)
        log(f"{name}: succeeded")
        await store.succeed(engine, evaluation_id, cards["trained"], base, change)
        return "succeeded"
    except Exception as exc:
        return await record_failure(engine, "evaluation", evaluation_id, here, exc, flush=flush)


def _reporter(
    evaluation_id: uuid.UUID,
    subject: Subject,
    total: int,
    pending: queue.SimpleQueue[dict[str, Any]],
    on_progress: Callable[[Progress], None] | None,
    log: Callable[[str], None],
) -> Callable[[list[tuple[EvalItem, ScoredItem]]], None]:
    """The `emit` of one subject: queue the rows, count, log and report progress."""
    started = time.perf_counter()
    counts = {"done": 0, "correct": 0, "samples": 0}

    def emit(finished: list[tuple[EvalItem, ScoredItem]]) -> None:
        for item, scored in finished:
            pending.put(item_row(evaluation_id, subject, item, scored))
            counts["correct"] += sum(s.correct for s in scored.samples)
            counts["samples"] += len(scored.samples)
        counts["done"] += len(finished)
        progress = Progress(
            subject,
            counts["done"],
            total,
            counts["correct"],
            counts["samples"],
            time.perf_counter() - started,
        )
        log(
            f"{subject}: {progress.done}/{total} items, "
            f"{progress.done / max(progress.seconds, 1e-9):.1f} items/s, "
            f"accuracy {progress.correct / max(progress.samples, 1):.4f}"
        )
        if on_progress is not None:
            on_progress(progress)

    return emit


async def evaluate_here(
    engine: AsyncEngine,
    settings: Settings,
    run_id: uuid.UUID,
    options: EvaluationOptions,
    *,
    on_start: Callable[[EvaluationAccepted], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> EvaluationRecord:
    """Record an evaluation of `run_id` as a job of this process and execute it here (Ctrl-C
    cancels it cleanly); returns its record. `on_start` gets the accepted evaluation."""
    from tunix_rt.evals import service

    accepted = await service.submit(engine, run_id, options, status="running", pid=os.getpid())
    if on_start is not None:
        on_start(accepted)
    folder = evaluation_dir(settings.runs_dir, run_id, accepted.evaluation_id)
    with foreground_job(folder / EVALUATION_LOG_FILE) as here:
        await execute_evaluation(
            engine, settings, accepted.evaluation_id, here, on_progress=on_progress
        )
    async with engine.connect() as conn:
        return await store.get_evaluation(conn, accepted.evaluation_id)
