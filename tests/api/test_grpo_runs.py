"""GRPO runs through the API, on SQLite and PostgreSQL: manifests refused by field name, a
starting run that must have a checkpoint, and a real GRPO run in a worker process that records
its rewards per step and serves its rollouts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from helpers.server import cli_env, run_cli, running_server

pytestmark = pytest.mark.slow


def grpo_yaml(init_from_run: str, key: str = "arith-v1", **changes: Any) -> str:
    manifest: dict[str, Any] = {
        "mode": "grpo",
        "model": {"model_id": "tunix-rt/tiny", "init_from_run": init_from_run},
        "dataset": {"key": key},
        "training": {"learning_rate": 1e-3, "batch_size": 2, "max_steps": 2},
        "grpo": {
            "num_generations": 2,
            "max_tokens_to_generate": 24,
            "max_prompt_length": 32,
            "rollouts_every_n_steps": 1,
            "rollouts_per_sample": 2,
        },
        "rewards": [{"name": "answer", "weight": 1.0}, {"name": "format", "weight": 0.2}],
        "output": {"output_dir": "model"},
    }
    for section, value in changes.items():
        if isinstance(value, dict):
            manifest[section] = {**manifest.get(section, {}), **value}
        else:
            manifest[section] = value
    return yaml.safe_dump(manifest)


def sft_yaml(key: str = "arith-v1") -> str:
    return yaml.safe_dump(
        {
            "model": {"model_id": "tunix-rt/tiny", "width": 64},
            "dataset": {"key": key},
            "training": {"batch_size": 8, "max_seq_length": 256, "max_steps": 30},
            "output": {"output_dir": "model"},
        }
    )


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[httpx.Client, Path, str]]:
    yield from serve(tmp_path, database_url, executor=True)


@pytest.fixture
def idle(tmp_path: Path, database_url: str) -> Iterator[tuple[httpx.Client, Path, str]]:
    """A server that queues runs and never starts them."""
    yield from serve(tmp_path, database_url, executor=False)


def serve(
    tmp_path: Path, database_url: str, *, executor: bool
) -> Iterator[tuple[httpx.Client, Path, str]]:
    runs_dir = tmp_path / "runs"
    with (
        running_server(
            database_url,
            TUNIX_RT_RUNS_DIR=str(runs_dir),
            TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
            TUNIX_RT_RUN_EXECUTOR=str(executor).lower(),
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        stored = client.post(
            "/api/generators/arithmetic/generate",
            json={"count": 64, "seed": 0, "params": {"digits": 2, "operation": "add"}},
        )
        assert stored.status_code == 201, stored.text
        for name, source in (("arith", "arithmetic"), ("notes", "notes")):
            if source == "notes":
                trace = {
                    "trace_version": "1.0",
                    "prompt": "Say hi.",
                    "final_answer": "hi",
                    "steps": [{"i": 0, "type": "thought", "content": "Greet."}],
                    "meta": {"source": "notes"},
                }
                posted = client.post("/api/traces", json=trace)
                assert posted.status_code == 201, posted.text
            built = client.post(
                "/api/datasets/build",
                json={"dataset_name": name, "dataset_version": "v1", "filters": {"source": source}},
            )
            assert built.status_code == 201, built.text
        yield client, runs_dir, database_url


def wait_for(client: httpx.Client, run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/tunix/runs/{run_id}").json()
        if run["status"] in {"succeeded", "failed", "cancelled"}:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}: {run}"
        time.sleep(0.25)


def submit(client: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    return client.post("/api/tunix/run", json={"manifest_yaml": text, **extra})


def test_bad_grpo_manifests_are_refused_naming_the_field(
    idle: tuple[httpx.Client, Path, str],
) -> None:
    client, _, _ = idle
    some_run = str(uuid.uuid4())
    cases = [
        (
            grpo_yaml(some_run, grpo={"num_generations": 1}),
            "manifest grpo.num_generations: Input should be greater than or equal to 2",
        ),
        (
            grpo_yaml(some_run, grpo={"beta": -1}),
            "manifest grpo.beta: Input should be greater than or equal to 0",
        ),
        (
            grpo_yaml(some_run, grpo={"temperature": 0}),
            "manifest grpo.temperature: Input should be greater than 0",
        ),
        (
            grpo_yaml(some_run, rewards=[{"name": "nope"}]),
            "manifest rewards.0.name: unknown reward 'nope' (known: answer, format, steps, length)",
        ),
        (
            grpo_yaml(some_run, mode="sft"),
            "manifest grpo is only used with mode grpo",
        ),
        (
            grpo_yaml(some_run, model={"width": 64}),
            "manifest model: model.init_from_run takes the run's own model: leave out "
            "model.source, path, layers and width",
        ),
    ]
    for text, message in cases:
        response = submit(client, text)
        assert response.status_code == 422, (message, response.text)
        assert response.json()["detail"][0]["msg"].startswith(message), response.text
    unknown = submit(client, grpo_yaml(some_run))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"] == f"run {some_run} not found"
    assert client.get("/api/tunix/runs").json()["data"] == []


def test_a_starting_run_without_a_checkpoint_is_409(idle: tuple[httpx.Client, Path, str]) -> None:
    client, _, _ = idle
    queued = submit(client, sft_yaml()).json()["run_id"]
    response = submit(client, grpo_yaml(queued))
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        f"model.init_from_run: run {queued} cannot be started from: it is queued and has no "
        "checkpoint yet"
    )
    cancelled = client.post(f"/api/tunix/runs/{queued}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    response = submit(client, grpo_yaml(queued))
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        f"model.init_from_run: run {queued} cannot be started from: it was cancelled before "
        "it saved a checkpoint"
    )


def test_a_grpo_run_trains_from_an_sft_run_and_serves_its_rollouts(
    live: tuple[httpx.Client, Path, str],
) -> None:
    client, runs_dir, database_url = live
    sft = submit(client, sft_yaml()).json()["run_id"]
    assert wait_for(client, sft)["status"] == "succeeded"

    lacking = submit(client, grpo_yaml(sft, key="notes-v1"))
    assert lacking.status_code == 422, lacking.text
    trace_id = client.get("/api/traces", params={"source": "notes"}).json()["data"][0]["id"]
    assert lacking.json()["detail"][0] == {
        "loc": ["body", "manifest_yaml", "dataset", "key"],
        "msg": f"trace {trace_id} of dataset notes-v1 has no meta.expected_answer: GRPO's "
        "rewards need the expected answer of every prompt",
        "type": "value_error",
    }

    accepted = submit(client, grpo_yaml(sft))
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    run = wait_for(client, run_id)
    assert run["status"] == "succeeded", client.get(f"/api/tunix/runs/{run_id}/logs").text
    assert run["result"]["steps"] == 2 and run["result"]["checkpoint_step"] == 2

    points = client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]
    assert [p["step"] for p in points] == [1, 2]
    for point in points:
        assert set(point["rewards"]) == {"answer", "format"}
        assert point["reward_mean"] == pytest.approx(
            point["rewards"]["answer"]["mean"] + 0.2 * point["rewards"]["format"]["mean"]
        )
        assert point["kl"] is not None and 0 < point["completion_tokens"] <= 24
        assert 0.0 <= point["groups_with_spread"] <= 1.0
    sft_points = client.get(f"/api/tunix/runs/{sft}/metrics").json()["data"]
    assert all(p["reward_mean"] is None and p["rewards"] is None for p in sft_points)

    latest = client.get(f"/api/tunix/runs/{run_id}/rollouts").json()
    assert latest["steps"] == [1, 2] and latest["step"] == 2
    assert [r["step"] for r in latest["data"]] == [2, 2]
    first = client.get(f"/api/tunix/runs/{run_id}/rollouts", params={"step": 1}).json()
    assert first["step"] == 1 and len(first["data"]) == 2
    assert first["data"][0]["prompt"].startswith("<start_of_turn>user\nWhat is ")
    assert set(first["data"][0]["rewards"]) == {"answer", "format"}
    missing = client.get(f"/api/tunix/runs/{run_id}/rollouts", params={"step": 7})
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"run {run_id} stored no rollouts at step 7 (steps: 1, 2)"
    none = client.get(f"/api/tunix/runs/{sft}/rollouts").json()
    assert none == {"run_id": sft, "steps": [], "step": None, "data": []}
    log = client.get(f"/api/tunix/runs/{run_id}/logs").text
    assert "training (grpo)" in log and " reward " in log and " spread " in log

    env = cli_env(database_url, TUNIX_RT_RUNS_DIR=str(runs_dir))
    shown = run_cli(env, "runs", "rollouts", run_id, "--step", "1", text=True)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"run {run_id}: step 1 (steps with rollouts: 1, 2)\n")
    assert shown.stdout.count("group 0 · trace ") == 2
    refused = run_cli(env, "runs", "rollouts", run_id, "--step", "9", text=True)
    assert refused.returncode == 1
    assert (
        refused.stderr.strip() == f"error: run {run_id} stored no rollouts at step 9 (steps: 1, 2)"
    )

    # The run evaluates, and its base is the SFT run's checkpoint: the base's greedy outputs
    # are the SFT run's own.
    options = {"dataset_key": "arith-v1", "limit": 4, "max_new_tokens": 24}
    for evaluated_run, base in ((run_id, True), (sft, False)):
        queued = client.post(
            f"/api/tunix/runs/{evaluated_run}/evaluate", json={**options, "base": base}
        )
        assert queued.status_code == 202, queued.text
    outputs = {}
    for evaluated_run, subject in ((run_id, "base"), (sft, "trained")):
        record = wait_evaluation(client, evaluated_run)
        assert record["status"] == "succeeded", record["error"]
        items = client.get(
            f"/api/tunix/evaluations/{record['id']}/items", params={"subject": subject}
        ).json()["data"]
        outputs[subject] = [item["completion"] for item in items]
    assert len(outputs["base"]) == 4 and outputs["base"] == outputs["trained"]


def wait_evaluation(client: httpx.Client, run_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = client.get(f"/api/tunix/runs/{run_id}/evaluation").json()
        if record["status"] in {"succeeded", "failed", "cancelled"}:
            return dict(record)
        assert time.monotonic() < deadline, f"evaluation still {record['status']}"
        time.sleep(0.25)
