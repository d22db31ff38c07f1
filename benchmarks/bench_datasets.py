"""Dataset figures on a large trace table: random build, CLI and HTTP export, manifest latency.

Every export is measured twice: first (rendered from the database, writing the export cache's
entry) and again (copied from that entry). Two floors are measured too: the CLI's start-up (a
command that reads one row) and reading + decoding the 100k items with no formatting.

    python benchmarks/bench_datasets.py --backend sqlite [--table-rows 1000000]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import tempfile
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx

from common import BENCH_DATA_DIR, database_url, live_server, p50_ms, p95_ms, run_cli, trace_lines
from tunix_rt.datasets.export import item_batches
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.traces.importer import import_lines


async def fill(url: str, rows: int) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    report = await import_lines(engine, trace_lines(rows, seed=1, pool=20_000))
    assert report.committed and report.stored == rows
    await engine.dispose()


def build(url: str, data_dir: Path, version: str, limit: int) -> tuple[float, float]:
    seconds, peak_kib, _ = run_cli(
        url,
        "datasets",
        "build",
        "bench",
        version,
        "--random",
        "--seed",
        "17",
        "--limit",
        str(limit),
    )
    return seconds, peak_kib / 1024


def cli_export(url: str, key: str, out: Path) -> tuple[float, float, float]:
    """(whole command seconds, export seconds as the command reports them, peak RSS MiB)."""
    seconds, peak_kib, stderr = run_cli(url, "export", key, "--format", "tunix_sft", "-o", str(out))
    reported = re.search(r"exported [\d,]+ records in ([\d.]+) s", stderr)
    assert reported, stderr
    return seconds, float(reported.group(1)), peak_kib / 1024


async def read_floor(url: str, key: str) -> float:
    """Seconds to read and decode a dataset's items, with no formatting and no output: the
    floor under any export of it (measured in this process, so without the CLI's start-up)."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        started = time.perf_counter()
        async with aclosing(item_batches(conn, key)) as batches:
            async for _batch in batches:
                pass
        seconds = time.perf_counter() - started
    await engine.dispose()
    return seconds


def http_export(base: str, key: str) -> dict[str, float]:
    lines = 0
    started = time.perf_counter()
    first_byte = None
    with (
        httpx.Client(base_url=base, timeout=300) as client,
        client.stream(
            "GET", f"/api/datasets/{key}/export.jsonl", params={"format": "tunix_sft"}
        ) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_raw():
            if first_byte is None:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
    total = time.perf_counter() - started
    return {"lines": lines, "seconds": total, "first_byte_s": first_byte or total}


def manifest_latency(base: str, key: str) -> list[float]:
    body = {"dataset_key": key, "model_id": "google/gemma-2b-it", "output_dir": "bench"}
    samples = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(20):
            client.post("/api/tunix/sft/manifest", json=body)
        for _ in range(300):
            started = time.perf_counter()
            assert client.post("/api/tunix/sft/manifest", json=body).status_code == 201
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--table-rows", type=int, default=1_000_000)
    parser.add_argument("--dataset-rows", type=int, default=100_000)
    args = parser.parse_args()
    figures: dict[str, Any] = {"backend": args.backend, "table_rows": args.table_rows}
    shutil.rmtree(BENCH_DATA_DIR, ignore_errors=True)  # no manifests or exports of earlier runs
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = database_url(args.backend, workdir)
        started = time.perf_counter()
        asyncio.run(fill(url, args.table_rows))
        figures["fill_s"] = round(time.perf_counter() - started, 1)

        big, small = args.dataset_rows, args.dataset_rows // 10
        seconds, rss = build(url, workdir, "big", big)
        figures[f"build_random_{big}_s"] = round(seconds, 2)
        figures[f"build_random_{big}_peak_rss_mib"] = round(rss, 1)
        seconds, rss = build(url, workdir, "small", small)
        figures[f"build_random_{small}_s"] = round(seconds, 2)
        figures[f"build_random_{small}_peak_rss_mib"] = round(rss, 1)

        # What no export can go below: the CLI's start-up (a command that reads one row) and
        # reading + decoding the items.
        figures["cli_datasets_list_s"] = round(run_cli(url, "datasets", "list")[0], 2)
        figures[f"read_decode_{big}_s"] = round(asyncio.run(read_floor(url, "bench-big")), 2)

        for label, key, n in (("big", "bench-big", big), ("small", "bench-small", small)):
            for run in ("first", "again"):
                out = workdir / f"{label}.jsonl"
                seconds, exporting, rss = cli_export(url, key, out)
                name = f"cli_export_tunix_sft_{n}_{run}"
                figures[f"{name}_traces_per_s"] = round(n / seconds)
                figures[f"{name}_traces_per_s_excluding_start"] = round(n / exporting)
                figures[f"{name}_peak_rss_mib"] = round(rss, 1)
                figures[f"cli_export_tunix_sft_{n}_mib"] = round(out.stat().st_size / 2**20, 1)
                out.unlink()

        shutil.rmtree(BENCH_DATA_DIR / "datasets" / "bench-big" / "exports")  # cold again
        with live_server(url) as base:
            for run in ("first", "again"):
                streamed = http_export(base, "bench-big")
                assert streamed["lines"] == big
                name = f"http_export_tunix_sft_{big}_{run}"
                figures[f"{name}_traces_per_s"] = round(big / streamed["seconds"])
                figures[f"{name}_first_byte_ms"] = round(streamed["first_byte_s"] * 1000, 1)
            samples = manifest_latency(base, "bench-big")
            figures["manifest_p50_ms"] = p50_ms(samples)
            figures["manifest_p95_ms"] = p95_ms(samples)
    shutil.rmtree(BENCH_DATA_DIR, ignore_errors=True)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
