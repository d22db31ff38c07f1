"""The same seed selects and splits the same traces on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import POSTGRES_SKIP_REASON, POSTGRES_URL, reset_postgres
from helpers.factories import make_trace
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.export import export_lines
from tunix_rt.datasets.schema import DatasetBuildRequest
from tunix_rt.datasets.store import dataset_exists, get_manifest
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.traces.importer import import_lines


def _lines() -> list[bytes]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    lines = []
    for n in range(200):
        body = make_trace(n, source="x" if n % 3 else "y")
        body["id"] = str(uuid.UUID(int=n * 7919 + 1))
        body["created_at"] = (start + timedelta(seconds=n)).isoformat()
        lines.append(orjson.dumps(body) + b"\n")
    return lines


async def _build(url: str, data_dir: Path) -> tuple[list[str], bytes]:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        report = await import_lines(engine, _lines())
        assert report.committed, report.errors
        request = DatasetBuildRequest(
            dataset_name="x",
            dataset_version="1",
            selection_strategy="random",
            seed=99,
            limit=50,
            filters={"source": "x"},
            splits={"train": 0.8, "val": 0.2},  # type: ignore[arg-type]
        )
        await build_dataset(engine, data_dir, request)
        async with engine.connect() as conn:
            manifest = await get_manifest(conn, "x-1")
            val = b"".join([c async for c in export_lines(conn, "x-1", "tunix_sft", split="val")])
        return [str(i) for i in manifest.trace_ids], val
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_SKIP_REASON is not None, reason=POSTGRES_SKIP_REASON or "")
async def test_same_seed_same_ids_and_bytes_on_both(tmp_path: Path) -> None:
    assert POSTGRES_URL is not None
    await reset_postgres(POSTGRES_URL)
    on_sqlite = await _build(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", tmp_path / "a")
    on_postgres = await _build(POSTGRES_URL, tmp_path / "b")
    assert len(on_sqlite[0]) == 50
    assert on_sqlite == on_postgres


async def test_a_manifest_that_cannot_be_written_leaves_no_dataset(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    report = await import_lines(engine, _lines())
    assert report.committed, report.errors
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "datasets").write_bytes(b"")  # a file where the datasets folder goes
    request = DatasetBuildRequest(dataset_name="x", dataset_version="1", limit=10)
    with pytest.raises(OSError):
        await build_dataset(engine, data_dir, request)
    async with engine.connect() as conn:
        assert not await dataset_exists(conn, "x-1")

    (data_dir / "datasets").unlink()  # the key is free: the same build succeeds
    built = await build_dataset(engine, data_dir, request)
    manifest = orjson.loads(Path(built.manifest_path).read_bytes())  # noqa: ASYNC240
    assert manifest["trace_count"] == 10
