"""Training runs through a live server: a dataset to train on, a tiny run's manifest, starting
runs and waiting for them."""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import yaml

#: The dataset `store_arithmetic` builds.
DATASET_KEY = "arith-v1"
FINAL = {"succeeded", "failed", "cancelled"}


def store_arithmetic(client: httpx.Client, count: int = 300) -> None:
    """`count` two-digit additions from the built-in generator, as dataset DATASET_KEY."""
    stored = client.post(
        "/api/generators/arithmetic/generate",
        json={"count": count, "seed": 0, "params": {"digits": 2, "operation": "add"}},
    )
    assert stored.status_code == 201, stored.text
    built = client.post(
        "/api/datasets/build",
        json={
            "dataset_name": "arith",
            "dataset_version": "v1",
            "limit": count,
            "filters": {"source": "arithmetic"},
        },
    )
    assert built.status_code == 201, built.text


def manifest_yaml(key: str, **training: Any) -> str:
    """A run of the tiny model (width 64) on dataset `key`; `training` overrides its settings."""
    settings: dict[str, Any] = {
        "learning_rate": 3e-3,
        "batch_size": 8,
        "max_seq_length": 256,
        "max_steps": 20,
        "seed": 0,
    }
    settings.update(training)
    return yaml.safe_dump(
        {
            "model": {"model_id": "tunix-rt/tiny", "source": "tiny", "width": 64},
            "dataset": {"key": key, "path": f"datasets/{key}/tunix_sft.jsonl"},
            "training": settings,
            "output": {"output_dir": "model"},
        }
    )


def start(client: httpx.Client, **training: Any) -> str:
    """Queue a tiny run on DATASET_KEY; its id."""
    response = client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest_yaml(DATASET_KEY, **training)}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["run_id"])


def wait_for(
    client: httpx.Client, run_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    """The run's record once its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/api/tunix/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, f"run still {run['status']}: {run}"
        time.sleep(0.25)


def wait_for_pid(client: httpx.Client, run_id: str, timeout: float = 300) -> int:
    """The pid of the run's worker, once the executor has started it."""
    deadline = time.monotonic() + timeout
    while (pid := client.get(f"/api/tunix/runs/{run_id}").json()["pid"]) is None:
        assert time.monotonic() < deadline, "the run's worker did not start"
        time.sleep(0.1)
    return int(pid)


def wait_for_steps(client: httpx.Client, run_id: str, timeout: float = 300) -> None:
    """Until the run has recorded a training step."""
    deadline = time.monotonic() + timeout
    while not client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]:
        assert time.monotonic() < deadline, "the run recorded no step"
        time.sleep(0.25)


def alive(pid: int) -> bool:
    """Whether a process `pid` exists (a zombie counts: it has not been reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} is still alive"
        time.sleep(0.1)
