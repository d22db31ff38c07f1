"""API latency while a run trains: p95 of `GET /api/traces` during a real Tunix run.

    python benchmarks/bench_runs.py [--traces 10000]

Starts a server (SQLite), queues a tiny-model run, waits until it is training, measures, then
cancels it. Prints one JSON object.
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
                "training": {"learning_rate": 3e-3, "max_seq_length": 256, "max_steps": 100_000},
                "output": {"output_dir": "model"},
            }
            run = client.post("/api/tunix/run", json={"manifest_yaml": yaml.safe_dump(manifest)})
            run_id = run.json()["run_id"]
            while len(client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]) < 5:
                time.sleep(0.5)
            idle = []
            samples = []
            for _ in range(args.requests):
                started = time.perf_counter()
                assert client.get("/api/traces", params={"limit": 20}).status_code == 200
                samples.append(time.perf_counter() - started)
                time.sleep(0.01)
            steps = client.get(f"/api/tunix/runs/{run_id}/status").json()["last_step"]
            client.post(f"/api/tunix/runs/{run_id}/cancel")
            while client.get(f"/api/tunix/runs/{run_id}").json()["status"] == "running":
                time.sleep(0.5)
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get("/api/traces", params={"limit": 20})
                idle.append(time.perf_counter() - started)
    json.dump(
        {
            "list_traces_while_training_p50_ms": p50_ms(samples),
            "list_traces_while_training_p95_ms": p95_ms(samples),
            "list_traces_idle_p95_ms": p95_ms(idle),
            "training_steps_when_measured": steps,
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
