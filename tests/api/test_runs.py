"""Training runs through the API on SQLite and PostgreSQL: validation, and real Tunix runs in
worker processes (recorded, cancelled, killed, resumed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import yaml

from helpers.runs import (
    manifest_yaml,
    start,
    store_arithmetic,
    wait_for,
    wait_for_pid,
    wait_for_steps,
    wait_until_gone,
)
from helpers.server import running_server

pytestmark = pytest.mark.slow

#: The recorded run's steps. On SQLite enough for the loss to halve (training through the API
#: learns), and its checkpoint is reloaded; on PostgreSQL a few: what the database records.
LEARNING_STEPS = 150
RECORDED_STEPS = 12


class Live(NamedTuple):
    client: httpx.Client
    runs_dir: Path
    sqlite: bool  # the server's database is SQLite (else PostgreSQL)


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[Live]:
    runs_dir = tmp_path / "runs"
    with (
        running_server(
            database_url,
            TUNIX_RT_RUNS_DIR=str(runs_dir),
            TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
            TUNIX_RT_RUN_CANCEL_GRACE_SECONDS="3",
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        store_arithmetic(client)
        yield Live(client, runs_dir, database_url.startswith("sqlite"))


def test_a_tiny_run_trains_and_is_recorded(live: Live) -> None:
    client, runs_dir = live.client, live.runs_dir
    learns = live.sqlite  # the long run on one database is enough
    steps = LEARNING_STEPS if learns else RECORDED_STEPS
    run_id = start(client, max_steps=steps)
    run = wait_for(client, run_id, {"succeeded", "failed"}, timeout=600)
    assert run["status"] == "succeeded", run["error"]
    assert run["started_at"] and run["finished_at"]

    metrics = client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]
    assert [m["step"] for m in metrics] == list(range(1, steps + 1))
    if learns:
        assert metrics[-1]["loss"] < metrics[0]["loss"] / 2
    assert all(m["tokens_per_second"] > 0 for m in metrics)
    status = client.get(f"/api/tunix/runs/{run_id}/status").json()
    assert status == {
        "id": run_id,
        "status": "succeeded",
        "error": None,
        "last_step": steps,
        "last_loss": metrics[-1]["loss"],
    }

    log = client.get(f"/api/tunix/runs/{run_id}/logs", params={"tail": 5}).text
    assert f"run {run_id}: succeeded after {steps} steps" in log
    assert len(log.splitlines()) == 5
    followed = client.get(f"/api/tunix/runs/{run_id}/logs", params={"follow": True, "tail": 3})
    assert followed.status_code == 200
    assert followed.text.splitlines() == log.splitlines()[-3:]  # finished: ends after the tail

    names = {a["name"] for a in client.get(f"/api/tunix/runs/{run_id}/artifacts").json()}
    assert {"train.log", "dataset.jsonl", "manifest.yaml", "model/tokenizer.model"} <= names
    assert any(name.startswith("model/checkpoints/") for name in names)
    download = client.get(f"/api/tunix/runs/{run_id}/artifacts/manifest.yaml/download")
    assert download.status_code == 200
    assert yaml.safe_load(download.content)["training"]["max_steps"] == steps
    for bad in ("../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "nope.txt"):
        assert client.get(f"/api/tunix/runs/{run_id}/artifacts/{bad}/download").status_code == 404
    # Nothing outside the run's folder.
    assert sorted(p.name for p in runs_dir.iterdir()) == [run_id]

    if learns:
        # Reload the checkpoint in a child process: this test process never imports JAX.
        reloaded = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from tunix_rt.training.runner import load_checkpoint; "
                "print(load_checkpoint(__import__('pathlib').Path(sys.argv[1])).step)",
                str(runs_dir / run_id / "model"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert reloaded.stdout.strip() == str(steps)

    listed = client.get("/api/tunix/runs", params={"status": "succeeded"}).json()["data"]
    assert [r["id"] for r in listed] == [run_id]
    assert client.get("/api/tunix/runs", params={"dataset_key": "nope"}).json()["data"] == []


def test_cancel_stops_a_running_run(live: Live) -> None:
    client = live.client
    run_id = start(client, max_steps=100_000)
    queued_behind = start(client, max_steps=10)
    wait_for_steps(client, run_id)
    # Cancelled while the first run still holds the worker slot, so it is certainly queued:
    # once the first run stops, the executor would claim it at once.
    assert client.get(f"/api/tunix/runs/{queued_behind}").json()["status"] == "queued"
    assert client.post(f"/api/tunix/runs/{queued_behind}/cancel").json() == {
        "run_id": queued_behind,
        "status": "cancelled",
    }
    pid = client.get(f"/api/tunix/runs/{run_id}").json()["pid"]
    asked = time.monotonic()
    response = client.post(f"/api/tunix/runs/{run_id}/cancel")
    assert response.json() == {"run_id": run_id, "status": "cancelling"}
    run = wait_for(client, run_id, {"cancelled", "failed", "succeeded"}, timeout=15)
    assert run["status"] == "cancelled"
    assert time.monotonic() - asked < 10
    wait_until_gone(pid)
    assert client.post(f"/api/tunix/runs/{run_id}/cancel").status_code == 409
    # The cancelled queued run never starts once the slot is free.
    time.sleep(1)
    behind = client.get(f"/api/tunix/runs/{queued_behind}").json()
    assert (behind["status"], behind["pid"], behind["error"]) == (
        "cancelled",
        None,
        "cancelled before it started",
    )


def test_a_killed_worker_fails_the_run_with_a_reason(live: Live) -> None:
    client = live.client
    run_id = start(client, max_steps=100_000)
    pid = wait_for_pid(client, run_id)
    os.kill(pid, signal.SIGKILL)
    run = wait_for(client, run_id, {"failed", "cancelled", "succeeded"}, timeout=15)
    assert run["status"] == "failed"
    assert run["error"] == "the worker process exited with signal SIGKILL"


def checkpointed_and_recorded(
    client: httpx.Client, runs_dir: Path, run_id: str, step: int, timeout: float = 300
) -> None:
    """Until the run's folder holds a checkpoint at `step` or later, and the run has recorded
    the metrics of the steps up to it (a worker stores them every half second)."""
    from tunix_rt.runs.paths import latest_step

    deadline = time.monotonic() + timeout
    while True:
        saved = latest_step(runs_dir / run_id / "model" / "checkpoints") or 0
        if saved >= step:
            status = client.get(f"/api/tunix/runs/{run_id}/status").json()
            if (status["last_step"] or 0) >= saved:
                return
        assert time.monotonic() < deadline, f"run {run_id} saved no checkpoint at step {step}"
        time.sleep(0.02)


def test_a_killed_run_resumes_from_its_latest_checkpoint(live: Live) -> None:
    """A run whose worker is killed after some of its checkpoints is resumed (202): it goes on
    in its own folder from its latest checkpoint, and ends with the steps, the per-step losses
    (each step recorded once) and the final loss of the same run never stopped."""
    client, steps, every = live.client, 160, 40
    whole = start(client, max_steps=steps, checkpoint_every_n_steps=every)
    uninterrupted = wait_for(client, whole, {"succeeded", "failed"}, timeout=300)
    assert uninterrupted["status"] == "succeeded", uninterrupted["error"]
    refused = client.post(f"/api/tunix/runs/{whole}/resume")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"run {whole} is succeeded: only a failed or cancelled run can be resumed"
    )
    assert client.post(f"/api/tunix/runs/{uuid.uuid4()}/resume").status_code == 404

    run_id = start(client, max_steps=steps, checkpoint_every_n_steps=every)
    pid = wait_for_pid(client, run_id)
    checkpointed_and_recorded(client, live.runs_dir, run_id, every)
    # Killed well before its next checkpoint: the steps trained since are those past it.
    os.kill(pid, signal.SIGKILL)
    killed = wait_for(client, run_id, {"failed", "succeeded"}, timeout=15)
    assert killed["status"] == "failed"
    resumed = client.post(f"/api/tunix/runs/{run_id}/resume")
    assert resumed.status_code == 202, resumed.text
    from_step = resumed.json()["from_step"]
    assert resumed.json() == {"run_id": run_id, "status": "queued", "from_step": from_step}
    assert every <= from_step < steps and from_step % every == 0
    again = client.post(f"/api/tunix/runs/{run_id}/resume")
    assert again.status_code == 409
    assert " is queued: " in again.json()["detail"] or " is running: " in again.json()["detail"]

    run = wait_for(client, run_id, {"succeeded", "failed"}, timeout=300)
    assert (run["status"], run["error"]) == ("succeeded", None)
    assert run["result"]["steps"] == steps
    assert run["result"]["final_loss"] == uninterrupted["result"]["final_loss"]
    losses = {
        r: [m["loss"] for m in client.get(f"/api/tunix/runs/{r}/metrics").json()["data"]]
        for r in (whole, run_id)
    }
    steps_recorded = client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]
    assert [m["step"] for m in steps_recorded] == list(range(1, steps + 1))
    assert losses[run_id] == losses[whole]
    log = client.get(f"/api/tunix/runs/{run_id}/logs", params={"tail": 1000}).text
    assert f"run {run_id}: going on from its checkpoint at step {from_step}" in log
    assert log.splitlines()[-1].startswith(f"run {run_id}: succeeded after {steps} steps")


def test_requests_are_validated(live: Live) -> None:
    client = live.client
    dry = client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest_yaml("arith-v1"), "dry_run": True}
    )
    assert dry.status_code == 200
    assert dry.json()["run_id"] is None
    assert dry.json()["status"] == "validated"
    original = client.post(
        "/api/tunix/run",
        json={"dataset_key": "arith-v1", "model_id": "google/gemma-2b-it", "dry_run": True},
    )
    assert original.status_code == 200, original.text
    escaping = manifest_yaml("arith-v1").replace("output_dir: model", "output_dir: ../x")
    cases = [
        (manifest_yaml("nope-v1"), 404, None),
        (manifest_yaml("arith-v1") + "extra: 1\n", 422, "extra"),
        (manifest_yaml("arith-v1", batch_size=0), 422, "training.batch_size"),
        (escaping, 422, "output.output_dir"),
        ("a: [unclosed", 422, None),
    ]
    for text, code, field in cases:
        response = client.post("/api/tunix/run", json={"manifest_yaml": text})
        assert response.status_code == code, (text, response.text)
        if field:
            assert f"manifest {field}:" in response.json()["detail"][0]["msg"]
    assert client.get("/api/tunix/runs").json()["data"] == []
    assert client.get(f"/api/tunix/runs/{uuid.uuid4()}").status_code == 404
