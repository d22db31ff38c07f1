"""Web UI render times at 1,000,000 traces: the traces list (first page and deep in), the
dataset list and the run list, each against the API's own trace page measured in the same
rounds (alternating), so the figures can be read as ratios on a noisy machine.

    python benchmarks/bench_pages.py --backend sqlite [--table-rows 1000000] [--rounds 300]

Prints one JSON object: p50 and p95 in ms per page, and each page's p50 over the API's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from common import database_url, live_server, p50_ms, p95_ms, trace_lines
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.db.models import traces_table as T
from tunix_rt.runs.schema import MetricPoint
from tunix_rt.runs.store import add_metrics, create_run
from tunix_rt.traces.importer import import_lines
from tunix_rt.traces.store import Cursor

DATASETS = 30
RUNS = 2000


async def fill(url: str, rows: int) -> str:
    """`rows` traces and RUNS finished runs with metrics; returns a cursor half-way down."""
    engine = create_engine(url)
    await upgrade(engine)
    report = await import_lines(engine, trace_lines(rows, seed=1))
    assert report.committed and report.stored == rows
    for n in range(RUNS):
        run_id = await create_run(
            engine,
            dataset_key=f"bench-{n % DATASETS}-v1",
            manifest={"model": {"name": "tiny"}, "training": {"max_steps": 50}},
            status="succeeded",
        )
        await add_metrics(
            engine,
            run_id,
            [
                MetricPoint(
                    step=step,
                    loss=2.0 / step,
                    learning_rate=1e-3,
                    tokens_per_second=5000.0,
                    eval_loss=None,
                    elapsed_seconds=float(step),
                )
                for step in range(1, 51)
            ],
        )
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(T.c.created_at, T.c.seq)
                .order_by(T.c.created_at.desc(), T.c.seq.desc())
                .offset(rows // 2)
                .limit(1)
            )
        ).one()
    await engine.dispose()
    return Cursor(row.created_at, row.seq).encode()


def build_datasets(client: httpx.Client) -> None:
    for n in range(DATASETS):
        body = {"dataset_name": f"bench-{n}", "dataset_version": "v1", "limit": 1000}
        assert client.post("/api/datasets/build", json=body).status_code == 201


def measure(
    client: httpx.Client, pages: dict[str, tuple[str, dict[str, Any]]], rounds: int
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for name, (path, params) in pages.items():  # warm up, and check each page renders
        response = client.get(path, params=params)
        assert response.status_code == 200, f"{name}: {response.status_code}"
    for _ in range(rounds):
        for name, (path, params) in pages.items():
            started = time.perf_counter()
            response = client.get(path, params=params)
            samples[name].append(time.perf_counter() - started)
            assert response.status_code == 200
    baseline = p50_ms(samples["api_traces"])
    figures: dict[str, Any] = {}
    for name, values in samples.items():
        figures[f"{name}_p50_ms"] = p50_ms(values)
        figures[f"{name}_p95_ms"] = p95_ms(values)
        if name != "api_traces":
            figures[f"{name}_p50_over_api"] = round(p50_ms(values) / baseline, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    figures: dict[str, Any] = {"backend": args.backend, "table_rows": args.table_rows}
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(args.backend, Path(tmp))
        started = time.perf_counter()
        middle = asyncio.run(fill(url, args.table_rows))
        figures["fill_seconds"] = round(time.perf_counter() - started, 1)
        with (
            live_server(url, TUNIX_RT_RUN_EXECUTOR="false") as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            build_datasets(client)
            pages: dict[str, tuple[str, dict[str, Any]]] = {
                "api_traces": ("/api/traces", {"limit": 50}),
                "traces_page": ("/traces", {}),
                "traces_page_half_way": ("/traces", {"cursor": middle}),
                "datasets_page": ("/datasets", {}),
                "runs_page": ("/runs", {}),
            }
            figures |= measure(client, pages, args.rounds)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
