"""Trace store figures: CLI import, POST single and batch, GET by id, list pages at depth.

    python benchmarks/bench_traces.py --backend sqlite [--table-rows 1000000]

Prints one JSON object. Client and server share the machine's cores, as a user's laptop would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from common import (
    database_url,
    live_server,
    p50_ms,
    p95_ms,
    run_cli,
    trace_lines,
    typical_trace,
    write_jsonl,
)
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.db.models import traces_table as T
from tunix_rt.traces.importer import import_lines
from tunix_rt.traces.store import Cursor


def bench_import(backend: str, workdir: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for count in (20_000, 100_000):
        path = write_jsonl(workdir / f"import-{count}.jsonl", count, seed=count)
        url = database_url(backend, workdir)
        run_cli(url, "db", "upgrade")
        seconds, peak_kib, _ = run_cli(url, "traces", "import", str(path))
        figures[f"import_{count}_traces_per_s"] = round(count / seconds)
        figures[f"import_{count}_peak_rss_mib"] = round(peak_kib / 1024, 1)
        figures[f"import_{count}_file_mib"] = round(path.stat().st_size / 2**20, 1)
        path.unlink()
    return figures


def bench_writes(base: str) -> dict[str, Any]:
    rng = random.Random(7)
    with httpx.Client(base_url=base, timeout=60) as client:
        singles = [typical_trace(rng, n) for n in range(1000)]
        for body in singles[:50]:  # warm up
            client.post("/api/traces", json=body)
        started = time.perf_counter()
        for body in singles:
            assert client.post("/api/traces", json=body).status_code == 201
        single_rate = len(singles) / (time.perf_counter() - started)

        batches = [[typical_trace(rng, n) for n in range(1000)] for _ in range(20)]
        started = time.perf_counter()
        for batch in batches:
            assert client.post("/api/traces/batch", json=batch).status_code == 201
        batch_rate = 20 * 1000 / (time.perf_counter() - started)
    return {
        "single_post_per_s": round(single_rate),
        "batch_post_traces_per_s": round(batch_rate),
    }


async def fill(url: str, rows: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    report = await import_lines(engine, trace_lines(rows, seed=1))
    assert report.committed and report.stored == rows
    await engine.dispose()


async def sample_positions(url: str, depths: list[int]) -> dict[int, str]:
    engine = create_engine(url)
    cursors = {}
    async with engine.connect() as conn:
        for depth in depths:
            row = (
                await conn.execute(
                    select(T.c.created_at, T.c.seq)
                    .order_by(T.c.created_at.desc(), T.c.seq.desc())
                    .offset(depth)
                    .limit(1)
                )
            ).one()
            cursors[depth] = Cursor(row.created_at, row.seq).encode()
        ids = (await conn.execute(select(T.c.id).order_by(T.c.seq).limit(20_000))).scalars().all()
    await engine.dispose()
    return cursors | {-1: ",".join(str(i) for i in ids)}


def timed(client: httpx.Client, path: str, params: dict[str, Any] | None, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


def bench_reads(base: str, positions: dict[int, str], rows: int) -> dict[str, Any]:
    ids = positions.pop(-1).split(",")
    rng = random.Random(3)
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        timed(client, "/api/traces", {"limit": 20}, 50)  # warm up
        samples = []
        for trace_id in rng.sample(ids, 1000):
            started = time.perf_counter()
            assert client.get(f"/api/traces/{trace_id}").status_code == 200
            samples.append(time.perf_counter() - started)
        figures["get_by_id_p50_ms"] = p50_ms(samples)
        figures["get_by_id_p95_ms"] = p95_ms(samples)
        for depth, cursor in sorted(positions.items()):
            samples = timed(client, "/api/traces", {"limit": 20, "cursor": cursor}, 300)
            figures[f"keyset_page_depth_{depth}_p95_ms"] = p95_ms(samples)
        samples = timed(client, "/api/traces", {"limit": 20, "source": "bench-b"}, 300)
        figures["keyset_first_page_source_filter_p95_ms"] = p95_ms(samples)
        for offset in (0, 10_000, min(60_000, rows - 20)):
            samples = timed(client, "/api/traces", {"limit": 20, "offset": offset}, 100)
            figures[f"offset_page_{offset}_p95_ms"] = p95_ms(samples)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"backend": args.backend, "table_rows": args.table_rows}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if not args.skip_import:
            figures |= bench_import(args.backend, workdir)
        url = database_url(args.backend, workdir)
        with live_server(url) as base:
            figures |= bench_writes(base)
        url = database_url(args.backend, workdir)
        started = time.perf_counter()
        asyncio.run(fill(url, args.table_rows))
        figures["fill_traces_per_s"] = round(args.table_rows / (time.perf_counter() - started))
        depths = [0, 1_000, 100_000, args.table_rows // 2, args.table_rows - 21]
        positions = asyncio.run(sample_positions(url, [d for d in depths if d < args.table_rows]))
        with live_server(url) as base:
            figures |= bench_reads(base, positions, args.table_rows)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
