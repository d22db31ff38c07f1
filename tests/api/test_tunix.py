"""`/api/tunix`: status, SFT export and run manifests."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import yaml

from helpers.factories import make_trace
from tunix_rt.runs.manifest import RunManifest


async def _dataset(client: httpx.AsyncClient) -> list[str]:
    bodies = [make_trace(i) for i in range(5)]
    created = (await client.post("/api/traces/batch", json=bodies)).json()["traces"]
    build = {"dataset_name": "sft", "dataset_version": "v1", "limit": 5}
    assert (await client.post("/api/datasets/build", json=build)).status_code == 201
    return [t["id"] for t in created]


async def test_status_reports_without_importing_jax(client: httpx.AsyncClient) -> None:
    import sys

    body = (await client.get("/api/tunix/status")).json()
    assert set(body) == {"available", "version", "runtime_required", "message"}
    assert body["runtime_required"] is False
    assert "jax" not in sys.modules
    if not body["available"]:
        assert body["version"] is None
        assert "pip install -e '.[train]'" in body["message"]


async def test_sft_export_by_dataset_and_by_ids(client: httpx.AsyncClient) -> None:
    ids = await _dataset(client)
    by_key = await client.post("/api/tunix/sft/export", json={"dataset_key": "sft-v1"})
    assert by_key.status_code == 200
    assert by_key.headers["content-type"] == "application/x-ndjson"
    records = [json.loads(line) for line in by_key.text.splitlines()]
    assert [r["id"] for r in records] == ids[::-1]
    for record in records:
        assert set(record) == {"id", "prompts", "prompt", "completion", "final_answer", "metadata"}
        assert record["prompt"] + record["completion"] == record["prompts"]

    limited = await client.post("/api/tunix/sft/export", json={"dataset_key": "sft-v1", "limit": 2})
    assert [json.loads(x)["id"] for x in limited.text.splitlines()] == ids[::-1][:2]

    chosen = [ids[3], ids[1]]
    by_ids = await client.post("/api/tunix/sft/export", json={"trace_ids": chosen})
    assert [json.loads(x)["id"] for x in by_ids.text.splitlines()] == chosen


async def test_sft_export_of_a_dataset_holds_all_of_it_unless_limited(
    client: httpx.AsyncClient,
) -> None:
    bodies = [make_trace(i) for i in range(150)]
    created = (await client.post("/api/traces/batch", json=bodies)).json()["traces"]
    ids = [t["id"] for t in created]
    build = {
        "dataset_name": "big",
        "dataset_version": "v1",
        "limit": 150,
        "allow_eval_prompts": True,
    }
    assert (await client.post("/api/datasets/build", json=build)).status_code == 201

    whole = await client.post("/api/tunix/sft/export", json={"dataset_key": "big-v1"})
    assert whole.status_code == 200
    assert [json.loads(x)["id"] for x in whole.text.splitlines()] == ids[::-1]

    limited = await client.post(
        "/api/tunix/sft/export", json={"dataset_key": "big-v1", "limit": 120}
    )
    assert [json.loads(x)["id"] for x in limited.text.splitlines()] == ids[::-1][:120]

    by_ids = await client.post("/api/tunix/sft/export", json={"trace_ids": ids})
    assert [json.loads(x)["id"] for x in by_ids.text.splitlines()] == ids[:100]
    by_ids = await client.post("/api/tunix/sft/export", json={"trace_ids": ids, "limit": 150})
    assert [json.loads(x)["id"] for x in by_ids.text.splitlines()] == ids


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"limit": 5}, 400),
        ({"dataset_key": "missing-v1"}, 404),
        ({"trace_ids": ["not-a-uuid"]}, 422),
        ({"trace_ids": [str(uuid.UUID(int=1))]}, 404),
        ({"dataset_key": "a/b"}, 422),
        ({"dataset_key": "sft-v1", "limit": 0}, 422),
    ],
)
async def test_sft_export_errors(
    client: httpx.AsyncClient, body: dict[str, object], status: int
) -> None:
    await _dataset(client)
    response = await client.post("/api/tunix/sft/export", json=body)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json() == {"detail": "give dataset_key or trace_ids"}


async def test_manifest_yaml_is_valid_and_accepted_back(client: httpx.AsyncClient) -> None:
    await _dataset(client)
    response = await client.post(
        "/api/tunix/sft/manifest",
        json={
            "dataset_key": "sft-v1",
            "model_id": "google/gemma-2b-it",
            "output_dir": "runs/one",
            "learning_rate": 1e-4,
            "num_epochs": 2,
            "batch_size": 4,
            "max_seq_length": 512,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["dataset_key"] == "sft-v1"
    assert body["model_id"] == "google/gemma-2b-it"
    assert body["format"] == "tunix_sft"
    loaded = yaml.safe_load(body["manifest_yaml"])
    assert loaded == {
        "version": "1.0",
        "runner": "tunix",
        "mode": "sft",
        "model": {"model_id": "google/gemma-2b-it"},
        "dataset": {
            "key": "sft-v1",
            "format": "tunix_sft",
            "path": "datasets/sft-v1/tunix_sft.jsonl",
        },
        "training": {
            "learning_rate": 1e-4,
            "num_epochs": 2,
            "batch_size": 4,
            "max_seq_length": 512,
        },
        "output": {"output_dir": "runs/one"},
    }
    assert RunManifest.from_yaml(body["manifest_yaml"]).to_yaml() == body["manifest_yaml"]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"dataset_key": "nope-1"}, 404, None),
        ({"output_dir": "../escape"}, 422, "output_dir"),
        ({"output_dir": "/abs"}, 422, "output_dir"),
        ({"output_dir": "a/../../b"}, 422, "output_dir"),
        ({"learning_rate": 0}, 422, "learning_rate"),
        ({"learning_rate": 1.5}, 422, "learning_rate"),
        ({"num_epochs": 101}, 422, "num_epochs"),
        ({"batch_size": 513}, 422, "batch_size"),
        ({"max_seq_length": 127}, 422, "max_seq_length"),
        ({"max_seq_length": 32769}, 422, "max_seq_length"),
    ],
)
async def test_manifest_errors(
    client: httpx.AsyncClient, change: dict[str, object], status: int, field: str | None
) -> None:
    await _dataset(client)
    body = {"dataset_key": "sft-v1", "model_id": "m", "output_dir": "out"} | change
    response = await client.post("/api/tunix/sft/manifest", json=body)
    assert response.status_code == status, response.text
    if field:
        assert ["body", field] in [e["loc"] for e in response.json()["detail"]]


BASE = "version: '1.0'\nmodel: {model_id: m}\n"


@pytest.mark.parametrize(
    "text",
    [
        BASE + "dataset: {key: k, path: x.jsonl}\noutput: {output_dir: o}\nextra: 1\n",
        BASE + "dataset: {key: k, path: ../x}\noutput: {output_dir: o}\n",
        BASE + "dataset: {key: k, path: x}\noutput: {output_dir: /tmp}\n",
        BASE + "dataset: {key: k, path: x}\noutput: {output_dir: o}\ntraining: {batch_size: 0}\n",
    ],
)
def test_run_manifest_refuses_bad_files(text: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        RunManifest.from_yaml(text)
