"""Traces with fixed ids, a dataset of them, and finished evaluations of it, recorded with the
store functions as the evaluation worker writes them (no model generates anything)."""

from __future__ import annotations

import uuid
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.export import export_lines
from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters
from tunix_rt.datasets.store import dataset_record
from tunix_rt.db.bulk import insert_trace_rows
from tunix_rt.evals import store as evals_store
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.schema import RunStatus
from tunix_rt.traces.rows import trace_row
from tunix_rt.traces.schema import ReasoningTrace

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
#: Two-digit additions without carries, and the ids their traces are stored under.
PROBLEMS = [(12, 30), (21, 43), (50, 14), (33, 33)]
TRACE_IDS = [uuid.UUID(f"00000000-0000-4000-8000-{n:012d}") for n in range(1, 5)]
EXPECTED = {trace_id: str(a + b) for (a, b), trace_id in zip(PROBLEMS, TRACE_IDS, strict=True)}
SOURCE = "pairs"
MANIFEST = {
    "model": {"model_id": "tunix-rt/tiny"},
    "dataset": {"key": "src-1", "path": "datasets/src-1/tunix_sft.jsonl"},
    "output": {"output_dir": "model"},
}


def column_addition(a: int, b: int) -> ReasoningTrace:
    """A column-addition trace of two 2-digit numbers without carries."""
    total = a + b

    def column(place: str, top: int, bottom: int) -> str:
        return (
            f"{place}: {top} + {bottom} + carry 0 = {top + bottom}, write {top + bottom}, carry 0."
        )

    return ReasoningTrace.model_validate(
        {
            "trace_version": "1.0",
            "prompt": f"What is {a} + {b}?",
            "steps": [
                {"i": 0, "type": "column", "content": column("Ones", a % 10, b % 10)},
                {"i": 1, "type": "column", "content": column("Tens", a // 10, b // 10)},
            ],
            "final_answer": str(total),
            "meta": {"source": SOURCE, "expected_answer": str(total)},
        }
    )


async def store_traces(engine: AsyncEngine) -> None:
    """The traces of `PROBLEMS` under `TRACE_IDS` (stored in that order)."""
    rows = [
        trace_row(column_addition(a, b), created_at=CREATED, trace_id=trace_id)
        for (a, b), trace_id in zip(PROBLEMS, TRACE_IDS, strict=True)
    ]
    async with engine.begin() as conn:
        await insert_trace_rows(conn, rows)


async def source_dataset(engine: AsyncEngine, data_dir: Path) -> str:
    """Dataset `src-1` of the stored traces (newest first: the last problem first)."""
    built = await build_dataset(
        engine,
        data_dir,
        DatasetBuildRequest(
            dataset_name="src", dataset_version="1", filters=DatasetFilters(source=SOURCE)
        ),
    )
    return built.dataset_key


def completion(answer: str) -> str:
    return f"Reasoning:\n1. Add the ones.\n2. Add the tens.\nAnswer: {answer}"


async def record_evaluation(
    engine: AsyncEngine,
    key: str,
    answers: dict[uuid.UUID, str],
    *,
    status: RunStatus = "succeeded",
    evalset: bool = False,
) -> uuid.UUID:
    """An evaluation of dataset `key` (or, with `evalset`, of an eval set) in which the model
    answered `answers` (trace id -> answer, in item order), ended with `status` (`queued`:
    not started)."""
    run_id = await runs_store.create_run(engine, dataset_key=key, manifest=MANIFEST)
    await jobs.finish(engine, "run", run_id, "succeeded", result={"checkpoint_step": 10})
    async with engine.connect() as conn:
        record = await dataset_record(conn, key)
    if evalset:
        options = EvaluationOptions(evalset="arithmetic-add-sub-v1")
        target = EvaluationTarget(
            kind="evalset", name="arithmetic-add-sub-v1", sha256="ab" * 32, items=len(answers)
        )
    else:
        options = EvaluationOptions(dataset_key=key)
        target = EvaluationTarget(
            kind="dataset", name=key, sha256=record["export_sha256"], items=len(answers)
        )
    evaluation_id = await evals_store.create_evaluation(
        engine, run_id=run_id, model_id="tunix-rt/tiny", options=options, target=target
    )
    rows: list[dict[str, Any]] = [
        {
            "evaluation_id": evaluation_id,
            "subject": "trained",
            "idx": index,
            "prompt": "What is {} + {}?".format(*PROBLEMS[TRACE_IDS.index(trace_id)]),
            "expected": EXPECTED[trace_id],
            "completion": completion(answer),
            "answer": answer,
            "correct": answer == EXPECTED[trace_id],
            "format_ok": True,
            "output_tokens": 12,
            "samples": None,
            "meta": {"source": SOURCE, "trace_id": str(trace_id)},
        }
        for index, (trace_id, answer) in enumerate(answers.items())
    ]
    await evals_store.add_items(engine, rows)
    if status != "queued":
        await jobs.finish(engine, "evaluation", evaluation_id, status)
    return evaluation_id


async def export_bytes(
    engine: AsyncEngine, key: str, fmt: str = "preference", **options: Any
) -> bytes:
    """The whole export of dataset `key` in `fmt`, read from the database."""
    chunks = []
    async with aclosing(export_lines(engine, key, fmt, **options)) as stream:
        async for chunk in stream:
            chunks.append(chunk)
    return b"".join(chunks)
