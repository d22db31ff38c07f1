"""The export cache: a finished export is kept whole and served again; never a partial entry,
never a stale one, never more than its budget, and never a failed export because of it."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.api.app import create_app
from tunix_rt.datasets import export, service
from tunix_rt.datasets.export_cache import ExportCache
from tunix_rt.settings import Settings

EXPORT = "/api/datasets/c-1/export.jsonl"


@asynccontextmanager
async def _client(
    engine: AsyncEngine, settings: Settings, **changes: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes), engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _build(client: httpx.AsyncClient, seed: int = 3, traces: int = 12) -> None:
    bodies = [make_trace(i, source="c") for i in range(traces)]
    assert (await client.post("/api/traces/batch", json=bodies)).status_code == 201
    body = {
        "dataset_name": "c",
        "dataset_version": "1",
        "limit": traces,
        "selection_strategy": "latest",
        "splits": {"train": 0.5, "val": 0.5},
        "seed": seed,
    }
    response = await client.post("/api/datasets/build", json=body)
    assert response.status_code == 201, response.text


def _exports(settings: Settings) -> Path:
    return settings.data_dir / "datasets" / "c-1" / "exports"


def _entries(settings: Settings) -> dict[str, bytes]:
    folder = _exports(settings)
    return {path.name: path.read_bytes() for path in folder.iterdir()} if folder.exists() else {}


async def test_a_finished_export_is_kept_and_served_again(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
        first = await client.get(EXPORT, params={"format": "tunix_sft"})
        assert first.status_code == 200
        assert "content-length" not in first.headers  # streamed as it is rendered
        etag = first.headers["etag"]
        assert _entries(settings) == {etag.strip('"') + ".jsonl": first.content}

        again = await client.get(EXPORT, params={"format": "tunix_sft"})
        assert again.content == first.content
        assert again.headers["etag"] == etag
        assert again.headers["content-length"] == str(len(first.content))
        assert again.headers["content-type"] == "application/x-ndjson"

        # The second response really is the entry: what the entry holds is what is sent.
        entry = _exports(settings) / (etag.strip('"') + ".jsonl")
        entry.write_bytes(b'{"from":"the cache"}\n')
        assert (await client.get(EXPORT, params={"format": "tunix_sft"})).content == (
            b'{"from":"the cache"}\n'
        )


async def test_cache_off_keeps_nothing_and_exports_the_same_bytes(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
        cached = (await client.get(EXPORT, params={"format": "messages"})).content
    async with _client(
        engine, settings, export_cache_bytes=0, data_dir=settings.data_dir / "x"
    ) as c:
        first = await c.get(EXPORT, params={"format": "messages"})
        second = await c.get(EXPORT, params={"format": "messages"})
    assert first.content == second.content == cached
    assert "content-length" not in second.headers
    assert not (settings.data_dir / "x" / "datasets" / "c-1" / "exports").exists()


async def test_an_export_stopped_early_leaves_no_entry(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
    monkeypatch.setattr(export, "BATCH_ROWS", 2)  # six chunks
    cache = ExportCache.from_settings(settings)
    etag = (await service.check_export(engine, "c-1", "trace", None, None)).etag
    stream = service.open_export(engine, cache, "c-1", "trace", None, None, etag)
    assert stream.cached is None
    chunks = stream.chunks
    assert (await anext(chunks)).count(b"\n") == 2
    await chunks.aclose()
    assert engine.pool.checkedout() == 0  # the connection is back, idle (the read in flight done)
    folder = _exports(settings)
    assert list(folder.iterdir()) == []  # neither an entry nor its temporary file
    whole = b"".join(
        [
            c
            async for c in service.open_export(
                engine, cache, "c-1", "trace", None, None, etag
            ).chunks
        ]
    )
    assert whole.count(b"\n") == 12
    assert _entries(settings) == {etag.strip('"') + ".jsonl": whole}


async def test_least_recently_used_entries_go_first_and_oversized_ones_are_not_kept(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
        sizes = {
            fmt: len((await client.get(EXPORT, params={"format": fmt})).content)
            for fmt in ("alpaca", "sharegpt", "tunix_sft")
        }
    for path in _exports(settings).iterdir():
        path.unlink()
    budget = sizes["alpaca"] + sizes["sharegpt"] + 10
    assert sizes["tunix_sft"] > budget  # larger than the whole cache
    async with _client(engine, settings, export_cache_bytes=budget) as client:
        tags = {}
        for fmt in ("alpaca", "sharegpt"):
            tags[fmt] = (await client.get(EXPORT, params={"format": fmt})).headers["etag"]
        assert len(_entries(settings)) == 2
        await client.get(EXPORT, params={"format": "alpaca"})  # alpaca used last
        full = await client.get(EXPORT, params={"format": "tunix_sft"})
        assert len(full.content) == sizes["tunix_sft"]
        assert len(_entries(settings)) == 2  # too large to keep: nothing evicted for it
        await client.get(EXPORT, params={"format": "stepwise"})
    names = set(_entries(settings))
    assert tags["alpaca"].strip('"') + ".jsonl" in names  # recently used: kept
    assert tags["sharegpt"].strip('"') + ".jsonl" not in names  # least recently used: gone
    assert sum(len(body) for body in _entries(settings).values()) <= budget


async def test_temporary_files_of_dead_exports_are_removed(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
        folder = _exports(settings)
        folder.mkdir(parents=True)
        dead, live = folder / ".dead.jsonl.x.tmp", folder / ".live.jsonl.y.tmp"
        dead.write_bytes(b"{}\n")
        live.write_bytes(b"{}\n")
        two_hours_ago = time.time() - 7200
        os.utime(dead, (two_hours_ago, two_hours_ago))
        assert (await client.get(EXPORT)).status_code == 200
        assert not dead.exists()
        assert live.exists()  # an export still being written elsewhere


async def test_deleting_a_dataset_drops_its_entries_and_a_rebuild_never_sees_them(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        # 20 traces halved: two seeds draw the same val half once in 184,756 runs at most.
        await _build(client, seed=3, traces=20)
        before = await client.get(EXPORT, params={"format": "tunix_sft", "split": "val"})
        canonical = await client.get(EXPORT)
        assert len(_entries(settings)) == 2
        assert (await client.delete("/api/datasets/c-1")).status_code == 204
        assert not (settings.data_dir / "datasets" / "c-1").exists()

        # Same traces and order, other split seed: the same canonical bytes, other splits.
        bodies = {"dataset_name": "c", "dataset_version": "1", "limit": 20}
        response = await client.post(
            "/api/datasets/build",
            json={**bodies, "splits": {"train": 0.5, "val": 0.5}, "seed": 4},
        )
        assert response.status_code == 201
        again = await client.get(EXPORT)
        assert again.content == canonical.content
        assert again.headers["etag"] == canonical.headers["etag"]
        after = await client.get(EXPORT, params={"format": "tunix_sft", "split": "val"})
        assert after.headers["etag"] != before.headers["etag"]
        val_ids = {orjson.loads(line)["id"] for line in after.content.splitlines()}
        manifest = (await client.get("/api/datasets/c-1")).json()
        assert len(val_ids) == manifest["stats"]["split_counts"]["val"]
        assert val_ids != {orjson.loads(line)["id"] for line in before.content.splitlines()}


async def test_a_disk_that_refuses_the_entry_does_not_fail_the_export(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with _client(engine, settings) as client:
        await _build(client)
        folder = _exports(settings)
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.write_bytes(b"")  # a file where the folder should be: mkdir fails
        response = await client.get(EXPORT, params={"format": "stepwise"})
        assert response.status_code == 200
        assert response.content.count(b"\n") == 12
        assert folder.read_bytes() == b""


async def test_a_limited_sft_export_gives_its_connection_back(
    engine: AsyncEngine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BATCH_ROWS", 2)
    async with _client(engine, settings) as client:
        await _build(client)
        response = await client.post(
            "/api/tunix/sft/export", json={"dataset_key": "c-1", "limit": 3}
        )
        assert response.status_code == 200
        assert response.content.count(b"\n") == 3
        assert engine.pool.checkedout() == 0
        assert (await client.get(EXPORT)).content.count(b"\n") == 12
