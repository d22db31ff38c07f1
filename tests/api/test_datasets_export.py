"""Dataset exports: every format streams NDJSON in manifest order, byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import json
import shutil

import httpx
import pytest

from helpers.factories import make_trace
from tunix_rt.formats import FORMATS, encode_line, render
from tunix_rt.settings import Settings


async def _dataset(client: httpx.AsyncClient, n: int = 12) -> dict[str, object]:
    bodies = [make_trace(i, source="exp") for i in range(n)]
    assert (await client.post("/api/traces/batch", json=bodies)).status_code == 201
    response = await client.post(
        "/api/datasets/build",
        json={
            "dataset_name": "exp",
            "dataset_version": "1",
            "limit": n,
            "seed": 3,
            "selection_strategy": "random",
            "splits": {"train": 0.75, "val": 0.25},
        },
    )
    assert response.status_code == 201, response.text
    manifest: dict[str, object] = (await client.get("/api/datasets/exp-1")).json()
    return manifest


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_format_streams_the_manifest_in_order(
    client: httpx.AsyncClient, fmt: str
) -> None:
    manifest = await _dataset(client)
    response = await client.get("/api/datasets/exp-1/export.jsonl", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.content.splitlines(keepends=True)
    ids = manifest["trace_ids"]
    assert isinstance(ids, list)
    assert len(lines) == len(ids)
    expected = b""
    for trace_id in ids:
        payload = (await client.get(f"/api/traces/{trace_id}")).json()["payload"]
        expected += encode_line(render(fmt, trace_id, payload))
    assert response.content == expected


async def test_canonical_export_hash_and_etags(client: httpx.AsyncClient) -> None:
    manifest = await _dataset(client)
    canonical = await client.get("/api/datasets/exp-1/export.jsonl")
    assert hashlib.sha256(canonical.content).hexdigest() == manifest["export_sha256"]
    assert canonical.headers["etag"] == f'"{manifest["export_sha256"]}"'
    sft = await client.get("/api/datasets/exp-1/export.jsonl", params={"format": "tunix_sft"})
    val = await client.get(
        "/api/datasets/exp-1/export.jsonl", params={"format": "tunix_sft", "split": "val"}
    )
    tags = {canonical.headers["etag"], sft.headers["etag"], val.headers["etag"]}
    assert len(tags) == 3
    cached = await client.get(
        "/api/datasets/exp-1/export.jsonl",
        params={"format": "tunix_sft"},
        headers={"if-none-match": sft.headers["etag"]},
    )
    assert cached.status_code == 304
    assert cached.content == b""


async def test_export_is_the_same_after_the_store_changes(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _dataset(client)
    before = {
        fmt: (await client.get("/api/datasets/exp-1/export.jsonl", params={"format": fmt})).content
        for fmt in FORMATS
    }
    more = [make_trace(100 + i, source="exp") for i in range(5)]
    new_ids = [
        t["id"] for t in (await client.post("/api/traces/batch", json=more)).json()["traces"]
    ]
    assert (await client.delete(f"/api/traces/{new_ids[0]}")).status_code == 204
    shutil.rmtree(settings.data_dir / "datasets" / "exp-1" / "exports")  # render them again
    for fmt in FORMATS:
        after = await client.get("/api/datasets/exp-1/export.jsonl", params={"format": fmt})
        assert after.content == before[fmt]


async def test_system_instruction_and_errors(client: httpx.AsyncClient) -> None:
    await _dataset(client)
    response = await client.get(
        "/api/datasets/exp-1/export.jsonl",
        params={"format": "tunix_sft", "system": "Think step by step."},
    )
    first = json.loads(response.content.splitlines()[0])
    assert first["prompt"].startswith("<start_of_turn>user\nThink step by step.\n\nWhat is ")
    assert (
        await client.get("/api/datasets/exp-1/export.jsonl", params={"format": "nope"})
    ).status_code == 422
    missing = await client.get("/api/datasets/nope-1/export.jsonl")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "dataset nope-1 not found"}
    assert (await client.get("/api/datasets/bad%2Fkey/export.jsonl")).status_code in (404, 422)
