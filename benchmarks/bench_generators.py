"""Generate + store throughput of High Card Duel traces, through the API and the CLI.

API: a real `tunix-rt serve` process on a fresh SQLite file; `POST
/api/ungar/high-card-duel/generate` with `count` traces (stored, and `persist: false`), then the
NDJSON export of everything stored. CLI: `tunix-rt generate high-card-duel --count N` (stored)
and with `-o FILE`, wall time of the whole process (startup and migrations included). Prints
JSON; rates are traces per second, best of `--repeat`.

    python benchmarks/bench_generators.py [--count 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common import live_server, run_cli


def _cli(database_url: str, *args: str) -> float:
    seconds, _, _ = run_cli(database_url, *args)
    return seconds


def bench_api(workdir: Path, count: int, repeat: int) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir / 'api.db'}"
    with live_server(url) as base, httpx.Client(base_url=base, timeout=120) as client:

        def post(seed: int, persist: bool) -> float:
            body = {"count": count, "seed": seed, "persist": persist}
            started = time.perf_counter()
            response = client.post("/api/ungar/high-card-duel/generate", json=body)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
            assert len(response.json()["trace_ids"]) == (count if persist else 0)
            return elapsed

        stored = min(post(seed * count, True) for seed in range(repeat))
        preview_only = min(post(0, False) for _ in range(repeat))
        started = time.perf_counter()
        exported = client.get("/api/ungar/high-card-duel/export.jsonl", params={"limit": 100_000})
        export_s = time.perf_counter() - started
        lines = len(exported.content.splitlines())
    return {
        "generate_and_store_s": round(stored, 3),
        "generate_and_store_traces_per_s": round(count / stored),
        "persist_false_s": round(preview_only, 3),
        "export_lines": lines,
        "export_lines_per_s": round(lines / export_s),
    }


def bench_cli(workdir: Path, count: int, repeat: int) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir / 'cli.db'}"
    _cli(url, "db", "upgrade")
    startup = min(_cli(url, "generate", "high-card-duel", "--count", "0") for _ in range(repeat))
    stored = min(
        _cli(url, "generate", "high-card-duel", "--count", str(count), "--seed", str(n * count))
        for n in range(repeat)
    )
    out = workdir / "hcd.jsonl"
    written = min(
        _cli(url, "generate", "high-card-duel", "--count", str(count), "-o", str(out))
        for _ in range(repeat)
    )
    return {
        "process_with_count_0_s": round(startup, 3),
        "store_s": round(stored, 3),
        "store_traces_per_s": round(count / stored),
        "store_traces_per_s_excluding_startup": round(count / max(stored - startup, 1e-9)),
        "write_jsonl_s": round(written, 3),
        "write_jsonl_traces_per_s": round(count / written),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        result = {
            "count": args.count,
            "api": bench_api(workdir, min(args.count, 10_000), args.repeat),
            "cli": bench_cli(workdir, args.count, args.repeat),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
