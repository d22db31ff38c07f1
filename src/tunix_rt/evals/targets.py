"""What an evaluation runs on: a built-in eval set, or a dataset (or one split) whose traces carry
`meta.expected_answer`. `pin` checks a request and pins its target (name and sha256); `load_items`
reads the pinned items back when the evaluation runs, refusing a target that changed since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, and_, cast, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.datasets.export import export_lines
from tunix_rt.datasets.service import manifest_counts
from tunix_rt.datasets.store import dataset_record
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import traces_table as T
from tunix_rt.errors import ConflictError, InvalidInputError
from tunix_rt.evals.answers import expected_answer_of
from tunix_rt.evals.evalsets import get_eval_set, iter_eval_set
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget
from tunix_rt.formats.gemma import gemma_prompt


@dataclass(frozen=True)
class EvalItem:
    """One item to generate for: the prompt as the model was trained to read it."""

    index: int
    prompt: str  # the `tunix_sft` prompt: the Gemma chat layout, up to the model turn
    question: str  # the trace's own prompt text
    expected: str
    meta: dict[str, Any]


async def pin(engine: AsyncEngine, options: EvaluationOptions) -> EvaluationTarget:
    """The target of `options`, checked: 404 for an unknown eval set or dataset, 422 for a
    split the dataset lacks or a trace without an expected answer (the first one is named)."""
    if options.evalset is not None:
        spec = get_eval_set(options.evalset)
        items = min(spec.item_count, options.limit or spec.item_count)
        return EvaluationTarget(kind="evalset", name=spec.name, sha256=spec.sha256, items=items)
    assert options.dataset_key is not None
    key, split = options.dataset_key, options.split
    async with engine.connect() as conn:
        record = await dataset_record(conn, key)
        counts = await manifest_counts(conn, key)
        if split is not None and split not in counts:
            known = ", ".join(sorted(name for name in counts if name)) or "none"
            raise InvalidInputError(
                f"dataset {key} has no split {split!r} (splits: {known})", loc=("split",)
            )
        lacking = await first_without_expected_answer(conn, key, split)
    if lacking is not None:
        raise InvalidInputError(
            f"trace {lacking} of dataset {key} has no meta.expected_answer (a non-empty string "
            "or an integer): only traces with an expected answer can be scored",
            loc=("dataset_key",),
        )
    total = counts[split or ""]
    return EvaluationTarget(
        kind="dataset",
        name=key,
        split=split,
        sha256=record["export_sha256"],
        items=min(total, options.limit or total),
    )


async def first_without_expected_answer(
    conn: AsyncConnection, key: str, split: str | None
) -> str | None:
    """The id of the dataset's first trace (in manifest order) whose `meta.expected_answer` is
    not a non-empty string or an integer, or None."""
    text: ColumnElement[str]
    if conn.dialect.name == "postgresql":
        kind = func.jsonb_typeof(func.jsonb_extract_path(T.c.payload, "meta", "expected_answer"))
        text = func.jsonb_extract_path_text(T.c.payload, "meta", "expected_answer")
        ok = or_(
            and_(kind == "string", func.btrim(text) != ""),
            and_(kind == "number", text.regexp_match(r"^-?[0-9]+$")),
        )
    else:
        path = "$.meta.expected_answer"
        kind = func.json_type(T.c.payload, path)
        text = cast(func.json_extract(T.c.payload, path), String)
        ok = or_(and_(kind == "text", func.trim(text) != ""), kind == "integer")
    stmt = (
        select(T.c.id)
        .join(I, I.c.trace_seq == T.c.seq)
        .where(I.c.dataset_key == key, not_(func.coalesce(ok, False)))
        .order_by(I.c.position)
        .limit(1)
    )
    if split is not None:
        stmt = stmt.where(I.c.split == split)
    found = (await conn.execute(stmt)).scalar()
    return None if found is None else str(found)


async def load_items(engine: AsyncEngine, target: EvaluationTarget) -> list[EvalItem]:
    """The pinned items, in order (the first `target.items`)."""
    if target.kind == "evalset":
        spec = get_eval_set(target.name)
        if spec.sha256 != target.sha256:
            raise ConflictError(
                f"eval set {target.name} is not the one pinned (sha256 {target.sha256})"
            )
        items = []
        for index, trace in enumerate(iter_eval_set(target.name)):
            if index >= target.items:
                break
            meta = dict(trace.meta or {})
            expected = expected_answer_of(meta)
            assert expected is not None
            items.append(EvalItem(index, gemma_prompt(trace.prompt), trace.prompt, expected, meta))
        return items
    async with engine.connect() as conn:
        record = await dataset_record(conn, target.name)
    if record["export_sha256"] != target.sha256:
        raise ConflictError(
            f"dataset {target.name} changed since the evaluation was queued "
            f"(export sha256 {record['export_sha256']}, pinned {target.sha256})"
        )
    items = []
    async for chunk in export_lines(engine, target.name, "trace", split=target.split):
        for line in chunk.splitlines():
            if len(items) >= target.items:
                break
            items.append(_dataset_item(len(items), orjson.loads(line)))
    return items


def _dataset_item(index: int, record: Mapping[str, Any]) -> EvalItem:
    metadata = record["metadata"]
    meta = orjson.loads(metadata["meta_json"])
    expected = expected_answer_of(meta)
    if expected is None:  # pinned datasets were checked; a trace cannot change
        raise ConflictError(f"trace {metadata['trace_id']} has no meta.expected_answer")
    question = record["prompts"]  # the `trace` format carries the prompt as stored
    return EvalItem(
        index,
        gemma_prompt(question),
        question,
        expected,
        {**meta, "trace_id": metadata["trace_id"]},
    )
