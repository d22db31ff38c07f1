"""`/api/tunix`: status, SFT export and run manifests."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.runs.schema import RunStatus


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


async def _run(engine: AsyncEngine, status: RunStatus) -> str:
    sft = RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny"},
            "dataset": {"key": "sft-v1"},
            "output": {"output_dir": "o"},
        }
    )
    manifest = sft.model_dump(mode="json")
    return str(
        await runs_store.create_run(engine, dataset_key="sft-v1", manifest=manifest, status=status)
    )


async def _manifest(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """`POST /api/tunix/sft/manifest` for the tiny model on dataset sft-v1, with `fields`."""
    body = {"dataset_key": "sft-v1", "model_id": "tunix-rt/tiny", "output_dir": "o"}
    return await client.post("/api/tunix/sft/manifest", json=body | fields)


async def test_a_grpo_manifest_starts_from_a_run_and_shows_what_to_tune(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await _dataset(client)
    run_id = await _run(engine, "succeeded")
    response = await _manifest(client, mode="grpo", init_from_run=run_id)
    assert response.status_code == 201, response.text
    assert response.json()["format"] == "tunix_sft"
    text = response.json()["manifest_yaml"]
    loaded = yaml.safe_load(text)
    assert (loaded["mode"], loaded["model"]) == (
        "grpo",
        {"model_id": "tunix-rt/tiny", "init_from_run": run_id},
    )
    assert loaded["training"] == {  # GRPO's own rate and epochs
        "learning_rate": 3e-5,
        "num_epochs": 1,
        "batch_size": 8,
        "max_seq_length": 2048,
    }
    assert loaded["grpo"]["num_generations"] == 4 and loaded["grpo"]["beta"] == 0.04
    assert loaded["rewards"] == [
        {"name": "answer", "weight": 1.0},
        {"name": "steps", "weight": 0.5},
        {"name": "format", "weight": 0.2},
    ]
    assert RunManifest.from_yaml(text).to_yaml() == text

    dpo = await _manifest(client, mode="dpo", init_from_run=run_id)
    assert dpo.status_code == 201, dpo.text
    assert dpo.json()["format"] == "preference"
    assert yaml.safe_load(dpo.json()["manifest_yaml"])["dataset"] == {
        "key": "sft-v1",
        "format": "preference",
        "path": "datasets/sft-v1/preference.jsonl",
    }


async def test_a_manifest_refuses_a_run_it_cannot_start_from(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await _dataset(client)
    queued = await _run(engine, "queued")
    response = await _manifest(client, mode="grpo", init_from_run=queued)
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        f"model.init_from_run: run {queued} cannot be started from: it is queued and has no "
        "checkpoint yet"
    )
    missing = str(uuid.uuid4())
    response = await _manifest(client, mode="orpo", init_from_run=missing)
    assert response.status_code == 404, response.text
    sft = await _manifest(client, init_from_run=queued)
    assert sft.status_code == 422, sft.text
    assert "init_from_run is only used with mode grpo, dpo or orpo" in sft.text
