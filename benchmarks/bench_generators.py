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
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNIX_RT_")}
    env["TUNIX_RT_DATABASE_URL"] = database_url
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(database_url: str, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tunix_rt", *args],
        env=_env(database_url),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def bench_api(workdir: Path, count: int, repeat: int) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir / 'api.db'}"
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", "serve", "--port", str(port)],
        env=_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start")
                time.sleep(0.1)

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
            exported = client.get(
                "/api/ungar/high-card-duel/export.jsonl", params={"limit": 100_000}
            )
            export_s = time.perf_counter() - started
            lines = len(exported.content.splitlines())
    finally:
        server.terminate()
        server.wait(timeout=10)
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
