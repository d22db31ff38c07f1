"""Building a dataset: select in SQL, partition, measure, hash the export, write the manifest."""

from __future__ import annotations

import math
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.atomic_file import atomic_file
from tunix_rt.clock import utc_now
from tunix_rt.datasets.export import Batch, canonical_digest
from tunix_rt.datasets.pairs import check_pairable, count_wrong
from tunix_rt.datasets.paths import manifest_path
from tunix_rt.datasets.schema import (
    DatasetBuildRequest,
    DatasetBuilt,
    DatasetManifest,
    DatasetStats,
    EvaluationPairs,
)
from tunix_rt.datasets.select import (
    assign_splits,
    count_eligible,
    count_eval_prompts,
    insert_selection,
    split_sizes,
)
from tunix_rt.datasets.store import dataset_exists
from tunix_rt.db.engine import sqlite_foreign_keys_off
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.errors import ConflictError, InvalidInputError
from tunix_rt.traces.rows import char_count

#: Rough size of the Gemma chat markup and the `Reasoning:`/`Answer:` scaffolding, in characters,
#: and characters per token for SentencePiece on English text; see `DatasetStats`.
TEMPLATE_CHARS = 70
STEP_PREFIX_CHARS = 4
CHARS_PER_TOKEN = 4.0


async def build_dataset(
    engine: AsyncEngine, data_dir: Path, request: DatasetBuildRequest
) -> DatasetBuilt:
    """Select, store and describe a new dataset in one transaction; 409 if the key exists.

    The manifest file is written (whole, by a rename) only after the commit, so a build that
    fails or is killed before it commits leaves no file and its key free. If the file cannot
    be written, the dataset is deleted again and the error raised.
    """
    path = manifest_path(data_dir, request.key)  # a key that is no folder name: 422, untouched
    built, document = await _build(engine, request, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as out:
            out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    except OSError:
        from tunix_rt.datasets.service import delete

        with suppress(OSError):  # its folder may be as unwritable as the file was
            await delete(engine, data_dir, request.key)
        raise
    return built


async def _build(
    engine: AsyncEngine, request: DatasetBuildRequest, path: Path
) -> tuple[DatasetBuilt, dict[str, Any]]:
    """The dataset, committed, and its manifest file's document (written by the caller)."""
    key = request.key
    build_id = uuid.uuid4()
    created_at = utc_now()
    async with (
        engine.connect() as conn,
        sqlite_foreign_keys_off(conn),  # items reference traces selected under the write lock
        conn.begin(),
    ):
        if await dataset_exists(conn, key):
            raise ConflictError(f"dataset {key} already exists; datasets are immutable")
        pairs = request.pairs_from_evaluation
        if pairs is not None:
            await check_pairable(conn, pairs.evaluation_id)
        try:
            await conn.execute(
                insert(D).values(
                    key=key,
                    build_id=build_id,
                    name=request.dataset_name,
                    version=request.dataset_version,
                    created_at=created_at,
                    trace_count=0,
                    export_sha256="",
                    manifest={},
                )
            )
        except IntegrityError as exc:  # built concurrently by another request
            raise ConflictError(f"dataset {key} already exists; datasets are immutable") from exc
        await insert_selection(conn, key, request)
        counted = select(func.count()).select_from(I).where(I.c.dataset_key == key)
        count = int((await conn.execute(counted)).scalar_one())
        excluded = 0 if request.allow_eval_prompts else await count_eval_prompts(conn, request)
        matching = count if count < request.limit else await count_eligible(conn, request)
        if count == 0:
            held_out = (
                f" ({excluded} that do have eval set prompts, which builds leave out unless "
                "allow_eval_prompts is true)"
                if excluded
                else ""
            )
            scored = (
                ""
                if pairs is None
                else f" of those evaluation {pairs.evaluation_id} scored"
                + (" wrong" if pairs.only_wrong else "")
            )
            raise InvalidInputError(
                f"no trace{scored} matches the filters{held_out}", loc=("filters",)
            )
        if request.splits is not None:
            assert request.seed is not None
            await conn.execute(assign_splits(key, request.seed, split_sizes(count, request.splits)))
        sizes = SizeStats()
        export_sha256, trace_ids = await canonical_digest(conn, key, sizes.add)
        stats = sizes.stats(await split_counts(conn, key))
        paired = None
        if pairs is not None:
            wrong = await count_wrong(conn, key, pairs.evaluation_id)
            paired = EvaluationPairs(**pairs.model_dump(), wrong=wrong)
        manifest = DatasetManifest(
            dataset_key=key,
            build_id=build_id,
            dataset_name=request.dataset_name,
            dataset_version=request.dataset_version,
            created_at=created_at,
            filters=request.filters.model_dump(mode="json", exclude_defaults=True),
            selection_strategy=request.selection_strategy,
            seed=request.seed,
            limit=request.limit,
            dedupe=request.dedupe,
            splits=request.splits,
            trace_ids=[],  # added below as the canonical strings they already are
            trace_count=count,
            stats=stats,
            session_id=request.session_id,
            parent_dataset_id=request.parent_dataset_id,
            training_run_id=request.training_run_id,
            export_sha256=export_sha256,
            allow_eval_prompts=request.allow_eval_prompts,
            eval_prompts_excluded=excluded,
            pairs_from_evaluation=paired,
        )
        document = manifest.model_dump(mode="json")
        document["trace_ids"] = trace_ids  # the file holds them; the row does not
        stored = {name: value for name, value in document.items() if name != "trace_ids"}
        await conn.execute(
            D.update()
            .where(D.c.key == key)
            .values(trace_count=count, export_sha256=manifest.export_sha256, manifest=stored)
        )
    built = DatasetBuilt(
        dataset_key=key,
        build_id=build_id,
        trace_count=count,
        manifest_path=str(path),
        eval_prompts_excluded=excluded,
        evaluation_wrong=None if paired is None else paired.wrong,
        matching_count=matching,
    )
    return built, document


class SizeStats:
    """Step and character statistics of a dataset, gathered from its batches as the build reads
    them for the digest (one pass over the traces instead of two)."""

    def __init__(self) -> None:
        self.count = 0
        self.steps_min: int | None = None
        self.steps_max = 0
        self.steps_sum = 0
        self.chars_max = 0
        self.chars_sum = 0
        self.size_max = 0  # chars + STEP_PREFIX_CHARS * steps: the largest training example

    def add(self, batch: Batch) -> None:
        steps = [payload.get("steps") or () for payload in batch.payloads]
        counts = [len(trace_steps) for trace_steps in steps]
        chars = [
            char_count(payload["prompt"], payload["final_answer"], [s["content"] for s in st])
            for payload, st in zip(batch.payloads, steps, strict=True)
        ]
        self.count += len(counts)
        low = min(counts)
        self.steps_min = low if self.steps_min is None else min(self.steps_min, low)
        self.steps_max = max(self.steps_max, *counts)
        self.steps_sum += sum(counts)
        self.chars_max = max(self.chars_max, *chars)
        self.chars_sum += sum(chars)
        sizes = (c + STEP_PREFIX_CHARS * n for c, n in zip(chars, counts, strict=True))
        self.size_max = max(self.size_max, *sizes)

    def stats(self, split_counts: dict[str, int]) -> DatasetStats:
        """The statistics (of at least one trace)."""
        n = self.count
        assert n > 0 and self.steps_min is not None
        tokens_sum = self.chars_sum + TEMPLATE_CHARS * n + STEP_PREFIX_CHARS * self.steps_sum
        return DatasetStats(
            trace_count=n,
            min_steps=self.steps_min,
            avg_steps=round(self.steps_sum / n, 3),
            max_steps=self.steps_max,
            avg_chars=round(self.chars_sum / n, 1),
            max_chars=self.chars_max,
            est_tokens_avg=round(tokens_sum / (CHARS_PER_TOKEN * n), 1),
            est_tokens_max=math.ceil((self.size_max + TEMPLATE_CHARS) / CHARS_PER_TOKEN),
            split_counts=split_counts,
        )


async def split_counts(conn: AsyncConnection, key: str) -> dict[str, int]:
    """Items per split of a dataset (empty without splits)."""
    rows = await conn.execute(
        select(I.c.split, func.count())
        .where(I.c.dataset_key == key, I.c.split.is_not(None))
        .group_by(I.c.split)
        .order_by(I.c.split)
    )
    return {name: n for name, n in rows.all()}
