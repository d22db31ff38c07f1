"""DPO runs through the API, on SQLite and PostgreSQL: manifests refused by field name, and a
real DPO run from an SFT run in a worker process that records its rewards per step."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .test_grpo_runs import serve, sft_yaml, submit, wait_for

pytestmark = pytest.mark.slow


def dpo_yaml(init_from_run: str, **changes: Any) -> str:
    manifest: dict[str, Any] = {
        "mode": "dpo",
        "model": {"model_id": "tunix-rt/tiny", "init_from_run": init_from_run},
        "dataset": {"key": "arith-v1"},
        "training": {"batch_size": 4, "max_steps": 3},
        "dpo": {"max_prompt_length": 32, "max_response_length": 96},
        "output": {"output_dir": "model"},
    }
    for section, value in changes.items():
        if isinstance(value, dict):
            manifest[section] = {**manifest.get(section, {}), **value}
        else:
            manifest[section] = value
    return yaml.safe_dump(manifest)


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[httpx.Client, Path, str]]:
    yield from serve(tmp_path, database_url, executor=True)


@pytest.fixture
def idle(tmp_path: Path, database_url: str) -> Iterator[tuple[httpx.Client, Path, str]]:
    yield from serve(tmp_path, database_url, executor=False)


def test_bad_dpo_manifests_are_refused_naming_the_field(
    idle: tuple[httpx.Client, Path, str],
) -> None:
    client, _, _ = idle
    some_run = str(uuid.uuid4())
    cases = [
        (dpo_yaml(some_run, dpo={"beta": -1}), ["dpo", "beta"], "Input should be greater than 0"),
        (
            dpo_yaml(some_run, dpo={"label_smoothing": 0.5}),
            ["dpo", "label_smoothing"],
            "Input should be less than 0.5",
        ),
        (
            dpo_yaml(some_run, dpo={"gamma": 1}),
            ["dpo", "gamma"],
            "Extra inputs are not permitted",
        ),
        (
            dpo_yaml(some_run, dpo={"lambda_orpo": 0.2}),
            [],
            "dpo.lambda_orpo is only used with mode orpo",
        ),
        (
            dpo_yaml(some_run, mode="orpo", dpo={"beta": 0.2}),
            [],
            "dpo.beta is only used with mode dpo",
        ),
        (
            dpo_yaml(some_run, mode="sft"),
            [],
            "model.init_from_run is only used with mode grpo, dpo or orpo",
        ),
        (
            dpo_yaml(some_run, mode="sft", model={"init_from_run": None}),
            [],
            "dpo is only used with mode dpo or orpo",
        ),
        (
            dpo_yaml(some_run, dataset={"format": "tunix_sft"}),
            [],
            "dataset.format must be preference with mode dpo",
        ),
    ]
    for text, loc, message in cases:
        response = submit(client, text)
        assert response.status_code == 422, (message, response.text)
        field = ".".join(map(str, loc))
        assert response.json() == {
            "detail": [
                {
                    "loc": ["body", "manifest_yaml", *loc],
                    "msg": f"manifest {field}: {message}" if loc else f"manifest {message}",
                    "type": "value_error",
                }
            ]
        }
    unknown = submit(client, dpo_yaml(some_run))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"] == f"run {some_run} not found"
    assert client.get("/api/tunix/runs").json()["data"] == []


def test_a_dpo_run_trains_from_an_sft_run_and_records_its_rewards(
    live: tuple[httpx.Client, Path, str],
) -> None:
    client, runs_dir, _ = live
    sft = submit(client, sft_yaml()).json()["run_id"]
    assert wait_for(client, sft)["status"] == "succeeded"

    accepted = submit(client, dpo_yaml(sft))
    assert accepted.status_code == 202, accepted.text
    manifest = yaml.safe_load(accepted.json()["manifest_yaml"])
    assert manifest["dataset"] == {
        "key": "arith-v1",
        "format": "preference",
        "path": "datasets/arith-v1/preference.jsonl",
    }
    assert manifest["training"]["learning_rate"] == 3e-5
    run_id = accepted.json()["run_id"]
    run = wait_for(client, run_id)
    assert run["status"] == "succeeded", client.get(f"/api/tunix/runs/{run_id}/logs").text
    assert run["result"]["steps"] == 3 and run["result"]["checkpoint_step"] == 3
    assert run["result"]["train_examples"] == 64

    exported = (runs_dir / run_id / "dataset.jsonl").read_text().splitlines()
    assert len(exported) == 64 and all('"rejected":' in line for line in exported)

    points = client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]
    assert [p["step"] for p in points] == [1, 2, 3]
    for point in points:
        assert point["reward_margin"] == pytest.approx(
            point["reward_chosen"] - point["reward_rejected"], abs=1e-5
        )
        assert 0.0 <= point["reward_accuracy"] <= 1.0
        assert point["reward_mean"] is None and point["kl"] is None
    assert points[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)
    sft_points = client.get(f"/api/tunix/runs/{sft}/metrics").json()["data"]
    assert all(p["reward_margin"] is None for p in sft_points)
    log = client.get(f"/api/tunix/runs/{run_id}/logs").text
    assert "training (dpo)" in log and " margin " in log and " accuracy " in log
