"""API latency while a run trains and while an evaluation generates: p50 / p95 of
`GET /api/traces` during a real Tunix run, then during a real evaluation of its checkpoint,
against the same requests with the server idle.

    python benchmarks/bench_runs.py [--traces 10000] [--requests 500]

Starts a server (SQLite), queues a tiny-model run, waits until it is training, measures, then
cancels it (it keeps its checkpoint); queues an evaluation of that checkpoint (with the base,
long generations), measures while it generates, cancels it; measures idle. Prints one JSON
object with each p95 and its ratio to the idle one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from common import database_url, live_server, p50_ms, p95_ms, trace_lines


def latencies(client: httpx.Client, requests: int) -> list[float]:
    """Seconds per `GET /api/traces` page, one request every 10 ms."""
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        assert client.get("/api/traces", params={"limit": 20}).status_code == 200
        samples.append(time.perf_counter() - started)
        time.sleep(0.01)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url("sqlite", Path(tmp))
        with live_server(url) as base, httpx.Client(base_url=base, timeout=60) as client:
            lines = list(trace_lines(args.traces))
            for start in range(0, len(lines), 1000):
                batch = [json.loads(line) for line in lines[start : start + 1000]]
                assert client.post("/api/traces/batch", json=batch).status_code == 201
            client.post(
                "/api/generators/arithmetic/generate",
                json={"count": 300, "params": {"digits": 2, "operation": "add"}},
            )
            build = {
                "dataset_name": "arith",
                "dataset_version": "v1",
                "limit": 300,
                "filters": {"source": "arithmetic"},
            }
            assert client.post("/api/datasets/build", json=build).status_code == 201
            manifest = {
                "model": {"model_id": "tunix-rt/tiny"},
                "dataset": {"key": "arith-v1", "path": "datasets/arith-v1/tunix_sft.jsonl"},
                "training": {"max_seq_length": 256, "max_steps": 100_000},
                "output": {"output_dir": "model"},
            }
            run = client.post("/api/tunix/run", json={"manifest_yaml": yaml.safe_dump(manifest)})
            run_id = run.json()["run_id"]
            while len(client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]) < 5:
                time.sleep(0.5)
            training = latencies(client, args.requests)
            steps = client.get(f"/api/tunix/runs/{run_id}/status").json()["last_step"]
            client.post(f"/api/tunix/runs/{run_id}/cancel")
            while client.get(f"/api/tunix/runs/{run_id}").json()["status"] == "running":
                time.sleep(0.5)
            evaluation = {"evalset": "arithmetic-v1", "base": True, "max_new_tokens": 512}
            queued = client.post(f"/api/tunix/runs/{run_id}/evaluate", json=evaluation)
            path = f"/api/tunix/evaluations/{queued.json()['evaluation_id']}"
            while client.get(path).json()["items_done"] == 0:
                time.sleep(0.5)
            evaluating = latencies(client, args.requests)
            client.post(f"{path}/cancel")
            while client.get(path).json()["status"] == "running":
                time.sleep(0.5)
            idle = latencies(client, args.requests)
    json.dump(
        {
            "list_traces_while_training_p50_ms": p50_ms(training),
            "list_traces_while_training_p95_ms": p95_ms(training),
            "list_traces_while_evaluating_p50_ms": p50_ms(evaluating),
            "list_traces_while_evaluating_p95_ms": p95_ms(evaluating),
            "list_traces_idle_p95_ms": p95_ms(idle),
            "training_over_idle_p95": p95_ms(training) / p95_ms(idle),
            "evaluating_over_idle_p95": p95_ms(evaluating) / p95_ms(idle),
            "training_steps_when_measured": steps,
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
