"""Dataset reads the web pages share: the list with its splits, the step-count histogram and the
first records of an export."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.datasets import export, store
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.schema import DatasetBuildRequest
from tunix_rt.datasets.store import StepCountBin
from tunix_rt.errors import NotFoundError
from tunix_rt.traces.importer import import_lines


async def _seed(engine: AsyncEngine, step_counts: list[int]) -> None:
    lines = [orjson.dumps(make_trace(n, steps=s)) + b"\n" for n, s in enumerate(step_counts)]
    assert (await import_lines(engine, lines)).committed


async def _build(engine: AsyncEngine, data_dir: Path, **options: object) -> None:
    request = DatasetBuildRequest.model_validate(
        {"dataset_name": "h", "dataset_version": "1", "limit": 1000, **options}
    )
    await build_dataset(engine, data_dir, request)


async def test_the_histogram_has_one_bin_per_step_count_when_they_fit(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seed(engine, [2, 2, 2, 3, 5, 5])
    await _build(engine, tmp_path)
    async with engine.connect() as conn:
        bins = await store.step_count_histogram(conn, "h-1")
    assert bins == [
        StepCountBin(2, 2, 3),
        StepCountBin(3, 3, 1),
        StepCountBin(4, 4, 0),
        StepCountBin(5, 5, 2),
    ]


async def test_the_histogram_groups_step_counts_into_equal_bins(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seed(engine, [1, 1, 2, 4, 7, 9, 10])
    await _build(engine, tmp_path)
    async with engine.connect() as conn:
        bins = await store.step_count_histogram(conn, "h-1", max_bins=4)
        one_bin = await store.step_count_histogram(conn, "h-1", max_bins=1)
    # 1..10 is ten step counts: bins of ceil(10 / 4) = 3.
    assert bins == [
        StepCountBin(1, 3, 3),
        StepCountBin(4, 6, 1),
        StepCountBin(7, 9, 2),
        StepCountBin(10, 12, 1),
    ]
    assert one_bin == [StepCountBin(1, 10, 7)]


async def test_the_histogram_of_a_split_counts_only_its_traces(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seed(engine, [1] * 6 + [4] * 4)
    await _build(engine, tmp_path, seed=5, splits={"train": 0.5, "val": 0.5})
    async with engine.connect() as conn:
        train = await store.step_count_histogram(conn, "h-1", split="train")
        val = await store.step_count_histogram(conn, "h-1", split="val")
        missing = await store.step_count_histogram(conn, "h-1", split="test")
        whole = await store.step_count_histogram(conn, "h-1")
    assert sum(b.traces for b in train) == sum(b.traces for b in val) == 5
    assert missing == []
    assert whole == [StepCountBin(s, s, n) for s, n in [(1, 6), (2, 0), (3, 0), (4, 4)]]
    for part in (train, val):  # each bin of a split holds at most the whole's
        merged = {b.low: b.traces for b in part}
        assert all(merged.get(b.low, 0) <= b.traces for b in whole)


async def test_the_histogram_of_an_unknown_dataset_is_not_found(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(NotFoundError, match="dataset nope-1 not found"):
            await store.step_count_histogram(conn, "nope-1")


async def test_the_list_with_splits_gives_each_dataset_its_split_counts(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seed(engine, [1] * 10)
    await build_dataset(
        engine, tmp_path, DatasetBuildRequest(dataset_name="a", dataset_version="1", limit=10)
    )
    await build_dataset(
        engine,
        tmp_path,
        DatasetBuildRequest(
            dataset_name="b",
            dataset_version="1",
            limit=10,
            seed=1,
            splits={"train": 0.8, "val": 0.2},
        ),
    )
    async with engine.connect() as conn:
        listed = await store.list_datasets_with_splits(conn)
        plain = await store.list_datasets(conn)
    assert [entry.summary for entry in listed] == plain
    assert {e.summary.dataset_key: e.split_counts for e in listed} == {
        "a-1": {},
        "b-1": {"train": 8, "val": 2},
    }


async def test_the_first_records_are_the_export_s_first_lines(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _seed(engine, [1, 2, 3, 4, 5])
    await _build(engine, tmp_path)
    async with engine.connect() as conn:
        first = await export.first_records(conn, "h-1", "tunix_sft", 3)
        everything = await export.first_records(conn, "h-1", "tunix_sft", 50)
        lines = b"".join([c async for c in export.export_lines(conn, "h-1", "tunix_sft")])
    assert [orjson.dumps(r) for r in everything] == lines.splitlines()
    assert first == everything[:3]
