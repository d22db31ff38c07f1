"""Shared pieces of the benchmarks: synthetic traces, databases, a live server, percentiles."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from tunix_rt.db.engine import create_engine

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "this",
    "are",
    "or",
    "from",
    "at",
    "which",
    "but",
    "sum",
    "carry",
    "digit",
    "add",
    "step",
    "value",
    "compare",
    "larger",
    "smaller",
    "result",
    "first",
    "second",
    "third",
    "answer",
]

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
POSTGRES_BENCH_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/tunix_rt_bench"


def typical_trace(rng: random.Random, n: int) -> dict[str, Any]:
    """3-6 steps of 50-300 characters, as the issue's 'typical trace'."""

    def text_of(chars: int) -> str:
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < chars:
            words.append(rng.choice(WORDS))
        return " ".join(words)[:chars]

    return {
        "trace_version": "1.0",
        "prompt": f"Question {n}: " + text_of(rng.randint(60, 200)),
        "steps": [
            {"i": i, "type": "reasoning", "content": text_of(rng.randint(50, 300))}
            for i in range(rng.randint(3, 6))
        ],
        "final_answer": text_of(rng.randint(5, 40)),
        "meta": {"source": rng.choice(["bench-a", "bench-b", "bench-c"]), "n": n},
    }


def trace_lines(count: int, seed: int = 0, pool: int = 5_000) -> Iterator[bytes]:
    """`count` JSONL lines cycling through `pool` distinct typical traces (fast to make)."""
    rng = random.Random(seed)
    lines = [orjson.dumps(typical_trace(rng, n)) + b"\n" for n in range(min(pool, count))]
    for n in range(count):
        yield lines[n % len(lines)]


def write_jsonl(path: Path, count: int, seed: int = 0) -> Path:
    with path.open("wb") as handle:
        for line in trace_lines(count, seed):
            handle.write(line)
    return path


def database_url(backend: str, workdir: Path) -> str:
    """A fresh, empty database of the given backend."""
    if backend == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite+aiosqlite:///{path}"
    asyncio.run(_recreate_postgres())
    return POSTGRES_BENCH_URL


async def _recreate_postgres() -> None:
    engine = create_engine(POSTGRES_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("DROP DATABASE IF EXISTS tunix_rt_bench WITH (FORCE)"))
            await conn.execute(text("CREATE DATABASE tunix_rt_bench"))
    finally:
        await engine.dispose()


#: The data directory of the CLIs and servers the benchmarks start.
BENCH_DATA_DIR = Path(tempfile.gettempdir()) / "tunix_rt_bench_data"


def cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNIX_RT_")}
    env["TUNIX_RT_DATABASE_URL"] = url
    env["TUNIX_RT_DATA_DIR"] = str(BENCH_DATA_DIR)
    return env


# Runs the command given in argv and reports its wall time and peak RSS. Peak RSS must be read
# from a small parent: a process started straight from this (large) benchmark process inherits
# this process's peak as its own (Linux folds the spawning memory's high-water mark into the
# child's at exec).
_MEASURE = """
import os, subprocess, sys, time
started = time.perf_counter()
status = subprocess.call(sys.argv[1:])
elapsed = time.perf_counter() - started
import resource
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.write(f"\\n@measured {elapsed} {peak}\\n")
sys.exit(status)
"""


def run_cli(url: str, *args: str) -> tuple[float, int, str]:
    """Run `tunix-rt ARGS`; returns (seconds, peak RSS in KiB of that process, its stderr)."""
    process = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "tunix_rt", *args],
        env=cli_env(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    stderr, _, measured = process.stderr.decode().rpartition("\n@measured ")
    if process.returncode != 0:
        raise RuntimeError(f"tunix-rt {' '.join(args)} failed: {stderr}")
    elapsed, peak_kib = measured.split()
    return float(elapsed), int(peak_kib), stderr


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(url: str, port: int = 8765, **env: str) -> Iterator[str]:
    """`tunix-rt serve` on `url`, with extra TUNIX_RT_* settings from `env`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", "serve", "--port", str(port)],
        env=cli_env(url) | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def p95_ms(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=100)[94] * 1000, 2)


def p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def p99_ms(samples: list[float]) -> float:
    """The 99th percentile, never beyond the slowest sample (few samples are not extrapolated)."""
    return round(statistics.quantiles(samples, n=100, method="inclusive")[98] * 1000, 2)
