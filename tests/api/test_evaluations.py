"""Evaluations through a live server on SQLite and PostgreSQL: real Tunix runs and evaluations in
worker processes, the validation of requests, cancel, a killed worker, and the whole loop from a
model's stored outputs to a second training run.

The first database trains the model (TRAIN_STEPS) in a run whose manifest asks for the
evaluation. The next ones reuse that run's folder instead of training it again: a copy is
recorded as a run and evaluated the same way, and a short run (SHORT_STEPS) checks that the
manifest's evaluation runs after training and what it records."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conftest import BACKENDS, module_database
from helpers.server import running_server
from helpers.trained import record_run

pytestmark = pytest.mark.slow

TRAIN_STEPS = 900
SHORT_STEPS = 20
FRESH = 40  # fresh training-distribution prompts the first model answers


def manifest_yaml(key: str, *, steps: int, evaluation: dict[str, Any] | None = None) -> str:
    manifest: dict[str, Any] = {
        "model": {"model_id": "tunix-rt/tiny"},
        "dataset": {"key": key, "path": f"datasets/{key}/tunix_sft.jsonl"},
        "training": {"max_seq_length": 256, "max_steps": steps, "batch_size": 4},
        "output": {"output_dir": "model"},
    }
    if evaluation is not None:
        manifest["evaluation"] = evaluation
    return yaml.safe_dump(manifest)


def wait(client: httpx.Client, path: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == 200 and response.json()["status"] in statuses:
            return dict(response.json())
        assert time.monotonic() < deadline, f"{path}: {response.text[:2000]}"
        time.sleep(0.25)


class Live:
    def __init__(
        self, client: httpx.Client, runs_dir: Path, run_id: str, trained_id: str, evaluation_id: str
    ) -> None:
        self.client, self.runs_dir, self.run_id = client, runs_dir, run_id
        # The trained model's run, and its evaluation on the fresh prompts (with the base); the
        # same as run_id and its manifest's evaluation on the first database.
        self.trained_id, self.evaluation_id = trained_id, evaluation_id


#: The folder of the first database's trained run, which the next databases reuse.
_TRAINED_RUN: dict[str, Path] = {}


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A live server with a tiny run trained on two-digit additions, whose manifest asks for an
    evaluation (with the base) on a dataset of fresh prompts from the training distribution.
    After the first database: a short such run, and a copy of the first database's trained run
    recorded as a run and evaluated the same way."""
    folder = tmp_path_factory.mktemp(f"evaluations-{request.param}")
    url = module_database(request.param, folder)
    runs_dir = folder / "runs"
    with (
        running_server(
            url,
            TUNIX_RT_RUNS_DIR=str(runs_dir),
            TUNIX_RT_DATA_DIR=str(folder / "data"),
            TUNIX_RT_RUN_CANCEL_GRACE_SECONDS="3",
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        for seed, count in ((0, 2000), (5, FRESH)):
            stored = client.post(
                "/api/generators/arithmetic/generate",
                json={"count": count, "seed": seed, "params": {"digits": 2, "operation": "add"}},
            )
            assert stored.status_code == 201, stored.text
        for name, seed, limit in (("arith", 0, 2000), ("fresh", 5, FRESH)):
            built = client.post(
                "/api/datasets/build",
                json={
                    "dataset_name": name,
                    "dataset_version": "v1",
                    "limit": limit,
                    "filters": {"source": "arithmetic", "seed": seed},
                },
            )
            assert built.status_code == 201, built.text
        evaluation = {"dataset_key": "fresh-v1", "base": True, "max_new_tokens": 160}
        trained = _TRAINED_RUN.get("folder")
        if trained is None:
            text = manifest_yaml("arith-v1", steps=TRAIN_STEPS, evaluation=evaluation)
        else:  # what is checked of this run's evaluation does not need long answers
            short = {**evaluation, "max_new_tokens": 16}
            text = manifest_yaml("arith-v1", steps=SHORT_STEPS, evaluation=short)
        started = client.post("/api/tunix/run", json={"manifest_yaml": text})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        run = wait(client, f"/api/tunix/runs/{run_id}", {"succeeded", "failed"}, timeout=600)
        assert run["status"] == "succeeded", run["error"]
        record = wait(
            client, f"/api/tunix/runs/{run_id}/evaluation", {"succeeded", "failed"}, timeout=300
        )
        if trained is None:
            _TRAINED_RUN["folder"] = runs_dir / run_id
            trained_id, evaluation_id = run_id, record["id"]
        else:
            trained_id = record_run(url, runs_dir, trained)
            scored = client.post(f"/api/tunix/runs/{trained_id}/evaluate", json=evaluation)
            assert scored.status_code == 202, scored.text
            evaluation_id = scored.json()["evaluation_id"]
        path = f"/api/tunix/evaluations/{evaluation_id}"
        wait(client, path, {"succeeded", "failed", "cancelled"}, timeout=300)
        yield Live(client, runs_dir, run_id, trained_id, evaluation_id)


def test_the_manifest_evaluation_runs_after_training(live: Live) -> None:
    client, run_id = live.client, live.run_id
    record = wait(
        client, f"/api/tunix/runs/{run_id}/evaluation", {"succeeded", "failed"}, timeout=300
    )
    assert record["status"] == "succeeded", record["error"]
    dataset = client.get("/api/datasets/fresh-v1").json()
    assert record["target"] == {
        "kind": "dataset",
        "name": "fresh-v1",
        "split": None,
        "sha256": dataset["export_sha256"],
        "items": FRESH,
    }
    assert record["items_done"] == FRESH
    trained, base, delta = record["trained"], record["base"], record["delta"]
    assert trained["items"] == base["items"] == FRESH
    assert base["format_rate"] == 0.0 and base["accuracy"] == 0.0
    assert delta["accuracy"] == pytest.approx(trained["accuracy"] - base["accuracy"])
    assert trained["tokens_per_second"] > 0

    evaluation_id = record["id"]
    items = client.get(f"/api/tunix/evaluations/{evaluation_id}/items", params={"limit": 500})
    rows = items.json()["data"]
    assert [r["index"] for r in rows] == list(range(FRESH))
    assert sum(r["correct"] for r in rows) == round(trained["accuracy"] * FRESH)
    first = rows[0]
    assert first["prompt"].startswith("What is ")
    assert first["meta"]["operation"] == "add" and "trace_id" in first["meta"]

    # The dataset's evaluations: this one and the trained model's (the same on the first
    # database).
    board = client.get("/api/tunix/evaluations", params={"dataset_key": "fresh-v1"}).json()
    listed = {e["id"]: e for e in board["data"]}
    assert set(listed) == {evaluation_id, live.evaluation_id}
    assert listed[evaluation_id]["delta_accuracy"] == pytest.approx(delta["accuracy"])
    same = client.get(
        "/api/tunix/evaluations/compare", params={"a": evaluation_id, "b": evaluation_id}
    )
    assert same.json()["counts"]["a_only"] == same.json()["counts"]["b_only"] == 0
    log = client.get(f"/api/tunix/evaluations/{evaluation_id}/logs").text
    assert f"evaluation {evaluation_id}: succeeded" in log
    names = {a["name"] for a in client.get(f"/api/tunix/runs/{run_id}/artifacts").json()}
    assert f"evaluations/{evaluation_id}/eval.log" in names


def test_a_trained_model_answers_fresh_prompts_in_the_trained_layout(live: Live) -> None:
    client, evaluation_id = live.client, live.evaluation_id
    record = client.get(f"/api/tunix/evaluations/{evaluation_id}").json()
    assert record["status"] == "succeeded", record["error"]
    assert record["run_id"] == live.trained_id and record["items_done"] == FRESH
    trained, base, delta = record["trained"], record["base"], record["delta"]
    assert trained["items"] == base["items"] == FRESH
    assert base["format_rate"] == 0.0 and base["accuracy"] == 0.0
    assert trained["format_rate"] >= 0.9, trained
    assert trained["accuracy"] >= 0.2, trained
    assert delta["accuracy"] == pytest.approx(trained["accuracy"] - base["accuracy"])
    assert trained["accuracy_low"] < trained["accuracy"] < trained["accuracy_high"]
    assert trained["tokens_per_second"] > 0

    items = client.get(f"/api/tunix/evaluations/{evaluation_id}/items", params={"limit": 500})
    rows = items.json()["data"]
    assert [r["index"] for r in rows] == list(range(FRESH))
    assert sum(r["correct"] for r in rows) == round(trained["accuracy"] * FRESH)
    first = rows[0]
    assert first["prompt"].startswith("What is ") and first["completion"].startswith("Reasoning:")
    assert first["meta"]["operation"] == "add" and "trace_id" in first["meta"]
    wrong = client.get(
        f"/api/tunix/evaluations/{evaluation_id}/items", params={"correct": False, "limit": 500}
    ).json()["data"]
    assert all(not r["correct"] for r in wrong) and len(wrong) == FRESH - sum(
        r["correct"] for r in rows
    )
    base_rows = client.get(
        f"/api/tunix/evaluations/{evaluation_id}/items", params={"subject": "base", "limit": 500}
    ).json()["data"]
    assert len(base_rows) == FRESH and not any(r["format_ok"] for r in base_rows)


def test_outputs_become_the_next_dataset_and_train_a_second_run(live: Live) -> None:
    client, run_id = live.client, live.trained_id
    record = client.get(f"/api/tunix/evaluations/{live.evaluation_id}").json()
    assert record["status"] == "succeeded", record["error"]
    correct = round(record["trained"]["accuracy"] * FRESH)
    stored = client.post(f"/api/tunix/evaluations/{record['id']}/traces")
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert body["created_count"] + body["skipped"] == FRESH
    assert client.post(f"/api/tunix/evaluations/{record['id']}/traces").status_code == 409
    trace = client.get(f"/api/traces/{body['trace_ids'][0]}").json()["payload"]
    assert trace["meta"]["source"] == "model"
    assert trace["meta"]["run_id"] == run_id
    assert trace["meta"]["evaluation_id"] == record["id"]
    assert isinstance(trace["meta"]["correct"], bool)
    assert trace["meta"]["expected_answer"] == str(sum(trace["meta"]["operands"]))

    built = client.post(
        "/api/datasets/build",
        json={
            "dataset_name": "round",
            "dataset_version": "2",
            "limit": 1000,
            "filters": {"source": "model", "correct": True},
        },
    )
    assert built.status_code == 201, built.text
    assert built.json()["trace_count"] == correct
    second = client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest_yaml("round-2", steps=20)}
    )
    assert second.status_code == 202, second.text
    run = wait(
        client, f"/api/tunix/runs/{second.json()['run_id']}", {"succeeded", "failed"}, timeout=300
    )
    assert run["status"] == "succeeded", run["error"]
    assert run["result"]["train_examples"] == correct


def test_requests_are_validated(live: Live) -> None:
    client, run_id = live.client, live.run_id
    evaluate = f"/api/tunix/runs/{run_id}/evaluate"
    assert (
        client.post(
            f"/api/tunix/runs/{uuid.uuid4()}/evaluate", json={"evalset": "arithmetic-v1"}
        ).status_code
        == 404
    )
    unknown = client.post(evaluate, json={"evalset": "chess-v1"})
    assert unknown.status_code == 404 and "unknown eval set 'chess-v1'" in unknown.json()["detail"]
    assert client.post(evaluate, json={"dataset_key": "nope-1"}).status_code == 404
    both = client.post(evaluate, json={"evalset": "arithmetic-v1", "dataset_key": "fresh-v1"})
    assert both.status_code == 422
    split = client.post(evaluate, json={"dataset_key": "fresh-v1", "split": "val"})
    assert split.status_code == 422 and "has no split 'val'" in split.json()["detail"][0]["msg"]
    greedy_samples = client.post(evaluate, json={"evalset": "arithmetic-v1", "num_samples": 3})
    assert greedy_samples.status_code == 422

    # A dataset with a trace that has no expected answer: the first such trace is named.
    plain = client.post(
        "/api/traces",
        json={
            "trace_version": "1",
            "prompt": "Say hi",
            "steps": [{"i": 0, "type": "r", "content": "hi"}],
            "final_answer": "hi",
            "meta": {"source": "plain"},
        },
    )
    trace_id = plain.json()["id"]
    built = client.post(
        "/api/datasets/build",
        json={"dataset_name": "plain", "dataset_version": "1", "filters": {"source": "plain"}},
    )
    assert built.status_code == 201
    refused = client.post(evaluate, json={"dataset_key": "plain-1"})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["msg"].startswith(
        f"trace {trace_id} of dataset plain-1 has no meta.expected_answer"
    )
    assert client.get(f"/api/tunix/evaluations/{uuid.uuid4()}").status_code == 404


def test_cancel_and_a_killed_worker(live: Live) -> None:
    client, run_id = live.client, live.run_id
    slow = {"evalset": "arithmetic-v1", "base": True, "max_new_tokens": 512, "batch_size": 2}
    first = client.post(f"/api/tunix/runs/{run_id}/evaluate", json=slow)
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "queued"
    evaluation_id = first.json()["evaluation_id"]
    path = f"/api/tunix/evaluations/{evaluation_id}"
    deadline = time.monotonic() + 300
    while client.get(path).json()["items_done"] == 0:
        assert time.monotonic() < deadline, client.get(path).text
        time.sleep(0.25)

    # The running evaluation holds the only worker slot: a run queued now stays queued, and
    # has no checkpoint to evaluate; once cancelled, it never gets one.
    queued = client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest_yaml("arith-v1", steps=10)}
    )
    queued_id = queued.json()["run_id"]
    for reason in (
        "it is queued and has no checkpoint yet",
        "it was cancelled before it saved a checkpoint",
    ):
        refused = client.post(
            f"/api/tunix/runs/{queued_id}/evaluate", json={"evalset": "arithmetic-v1"}
        )
        assert refused.status_code == 409
        assert refused.json() == {"detail": f"run {queued_id} cannot be evaluated: {reason}"}
        client.post(f"/api/tunix/runs/{queued_id}/cancel")
    assert client.get(f"/api/tunix/runs/{queued_id}/evaluation").status_code == 404

    asked = time.monotonic()
    assert client.post(f"{path}/cancel").json() == {
        "evaluation_id": evaluation_id,
        "status": "cancelling",
    }
    record = wait(client, path, {"cancelled", "failed", "succeeded"}, timeout=30)
    assert record["status"] == "cancelled"
    assert time.monotonic() - asked < 20
    assert (record["trained"], record["base"], record["delta"]) == (None, None, None)
    assert client.post(f"{path}/cancel").status_code == 409

    second = client.post(f"/api/tunix/runs/{run_id}/evaluate", json=slow)
    killed_path = f"/api/tunix/evaluations/{second.json()['evaluation_id']}"
    deadline = time.monotonic() + 300
    while (pid := client.get(killed_path).json()["pid"]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    record = wait(client, killed_path, {"failed", "cancelled", "succeeded"}, timeout=30)
    assert record["status"] == "failed"
    assert record["error"] == "the worker process exited with signal SIGKILL"
    assert record["trained"] is None
