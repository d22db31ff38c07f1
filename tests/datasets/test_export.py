"""Exports read in batches of positions: any batch size, and any number of reads queued ahead,
gives the same bytes, splits included."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.datasets import export
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.schema import DatasetBuildRequest
from tunix_rt.traces.importer import import_lines


async def _export(engine: AsyncEngine, split: str | None) -> bytes:
    async with engine.connect() as conn:
        return b"".join([c async for c in export.export_lines(conn, "b-1", "trace", split=split)])


async def test_batch_size_does_not_change_the_bytes(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [orjson.dumps(make_trace(n)) + b"\n" for n in range(53)]
    assert (await import_lines(engine, lines)).committed
    request = DatasetBuildRequest(
        dataset_name="b",
        dataset_version="1",
        selection_strategy="random",
        seed=3,
        limit=53,
        splits={"train": 0.9, "val": 0.1},  # type: ignore[arg-type]
    )
    await build_dataset(engine, tmp_path, request)
    whole, val = await _export(engine, None), await _export(engine, "val")
    assert whole.count(b"\n") == 53
    assert val.count(b"\n") == 5
    for batch_rows in (1, 4, 10, 53, 54):  # val has empty ranges at the small sizes
        for reads_ahead in (1, 2, 5):
            monkeypatch.setattr(export, "BATCH_ROWS", batch_rows)
            monkeypatch.setattr(export, "READS_AHEAD", reads_ahead)
            assert await _export(engine, None) == whole
            assert await _export(engine, "val") == val
    val_ids = [orjson.loads(line)["id"] for line in val.splitlines()]
    whole_ids = [orjson.loads(line)["id"] for line in whole.splitlines()]
    assert val_ids == [i for i in whole_ids if i in set(val_ids)]  # manifest order kept


def test_a_batch_aggregated_out_of_order_is_put_back_in_position_order() -> None:
    # SQLite 3.40 cannot order inside an aggregate; the decoder must not trust the row order.
    batch = export._decode_batch([7, 3, 5], '["c", "a", "b"]', '[{"n": 7}, {"n": 3}, {"n": 5}]')
    assert batch == export.Batch([3, 5, 7], ["a", "b", "c"], [{"n": 3}, {"n": 5}, {"n": 7}])
    in_order = export._decode_batch([1, 2], '["x", "y"]', "[{}, {}]")
    assert in_order == export.Batch([1, 2], ["x", "y"], [{}, {}])
    paired = export._decode_batch(
        [7, 3, 5], '["c", "a", "b"]', "[{}, {}, {}]", '[[null, null], [4, "wrong"], [null, null]]'
    )
    assert paired == export.Batch(
        [3, 5, 7], ["a", "b", "c"], [{}, {}, {}], [[4, "wrong"], [None, None], [None, None]]
    )


async def test_a_dataset_of_one_trace_exports_it(engine: AsyncEngine, tmp_path: Path) -> None:
    line = orjson.dumps(make_trace(1)) + b"\n"
    assert (await import_lines(engine, [line])).committed
    request = DatasetBuildRequest(dataset_name="b", dataset_version="1", limit=5)
    built = await build_dataset(engine, tmp_path, request)
    assert built.trace_count == 1
    exported = await _export(engine, None)
    assert exported.count(b"\n") == 1
    manifest = orjson.loads(Path(built.manifest_path).read_bytes())  # noqa: ASYNC240
    assert manifest["export_sha256"] == hashlib.sha256(exported).hexdigest()
    assert manifest["trace_ids"] == [orjson.loads(exported)["id"]]
