"""Load held: one server under writers, readers, a dataset export and a training run at once.

    python benchmarks/bench_load.py [--seconds 120] [--postgres-url URL]

Starts `tunix-rt serve` on a free port with its own data and runs folders, stores 3,000
generated arithmetic traces and builds a dataset of them, then for `--seconds`, all at once:
8 writers post traces (`POST /api/traces`, and every fifth request a batch of 50 to
`POST /api/traces/batch`), 4 readers page through `GET /api/traces` with cursors (to the last
page, then from the first again), one client streams the dataset's export
(`GET /api/datasets/{key}/export.jsonl`, formats trace, tunix_sft and messages in turn; each
must be the whole dataset, with the same bytes every time), and a tiny-model run
(`POST /api/tunix/run`) trains and is followed until it ends. Then 1,000 traces answered 201,
at random, are read back by id from the server, and, once it has stopped, every one of them
must be in `tunix-rt traces export` of the database with exactly the payload posted.

Runs on SQLite, then on PostgreSQL when `--postgres-url` (default: TUNIX_RT_TEST_POSTGRES_URL,
the test suite's) names a database, whose `public` schema is dropped and made again first.

Prints one JSON object on stdout and the figures as markdown tables on stderr. Exits 1 when a
request was answered 5xx or failed otherwise, a trace answered 201 is missing or changed, or
the run did not succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from common import (
    database_url,
    free_port,
    live_server,
    p50_ms,
    p99_ms,
    run_cli,
    typical_trace,
)
from tunix_rt.db.migrate import reset_postgres

WRITERS = 8
READERS = 4
BATCH_EVERY = 5
BATCH_SIZE = 50
PAGE_LIMIT = 100
DATASET_TRACES = 3_000
DATASET_KEY = "load-v1"
EXPORT_FORMATS = ("trace", "tunix_sft", "messages")
RUN_STEPS = 50
RUN_TIMEOUT_SECONDS = 900.0
REQUEST_TIMEOUT_SECONDS = 60.0
CHECKERS = 4
READ_BACK = 1_000
EXAMPLES_KEPT = 5

#: The kinds of request, in the order of the table, with the label the table gives them.
KINDS = {
    "post_trace": "`POST /api/traces`",
    "post_batch": f"`POST /api/traces/batch` ({BATCH_SIZE} traces)",
    "list_page": f"`GET /api/traces?cursor=` ({PAGE_LIMIT} a page)",
    "export": "`GET /api/datasets/{key}/export.jsonl`",
    "run": "`POST /api/tunix/run`, then its status each second",
}


@dataclass
class Tally:
    """One kind of request: the latency of every answer, the 5xx answers, and the other
    failures (an unexpected status, no answer, a wrong body), with the first few described."""

    seconds: list[float] = field(default_factory=list)
    server_errors: int = 0
    failed: int = 0
    examples: list[str] = field(default_factory=list)

    def fail(self, why: str) -> None:
        self.failed += 1
        if len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(why)

    def figures(self) -> dict[str, Any]:
        p50 = p50_ms(self.seconds) if self.seconds else None
        p99 = p99_ms(self.seconds) if len(self.seconds) > 1 else p50
        return {
            "served": len(self.seconds),
            "5xx": self.server_errors,
            "failed": self.failed,
            "p50_ms": p50,
            "p99_ms": p99,
        }


def manifest_yaml(key: str) -> str:
    """A run of the tiny model on the dataset, as the API's run tests start one."""
    return yaml.safe_dump(
        {
            "model": {"model_id": "tunix-rt/tiny", "source": "tiny", "width": 64},
            "dataset": {"key": key, "path": f"datasets/{key}/tunix_sft.jsonl"},
            "training": {
                "learning_rate": 3e-3,
                "batch_size": 8,
                "max_seq_length": 256,
                "max_steps": RUN_STEPS,
                "seed": 0,
            },
            "output": {"output_dir": "model"},
        }
    )


class Load:
    """The clients of one server, and what they saw."""

    def __init__(self, base: str, seconds: float) -> None:
        self.base = base
        self.seconds = seconds
        self.deadline = 0.0
        self.tallies = {kind: Tally() for kind in KINDS}
        self.posted: dict[str, dict[str, Any]] = {}
        self.numbers = itertools.count()
        self.walks = 0
        self.repeated = 0
        self.exports = 0
        self.wrong_by_id: list[str] = []

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=REQUEST_TIMEOUT_SECONDS)

    def loading(self) -> bool:
        return time.monotonic() < self.deadline

    async def request(
        self,
        kind: str,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        expected: int,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """The response when it has the expected status; otherwise None, tallied."""
        tally = self.tallies[kind]
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            tally.fail(f"{method} {path}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(0.1)  # a server that is gone must not be asked in a busy loop
            return None
        tally.seconds.append(time.perf_counter() - started)
        if response.status_code == expected:
            return response
        if response.status_code >= 500:
            tally.server_errors += 1
        tally.fail(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return None

    async def prepare(self) -> int:
        """Store the dataset's traces and build it; returns how many traces it holds."""
        async with self.client() as client:
            generated = await client.post(
                "/api/generators/arithmetic/generate",
                json={"count": DATASET_TRACES, "seed": 0, "params": {"digits": 2}},
                timeout=300,
            )
            assert generated.status_code == 201, generated.text
            name, version = DATASET_KEY.rsplit("-", 1)
            build = {
                "dataset_name": name,
                "dataset_version": version,
                "filters": {"source": "arithmetic"},
                "limit": DATASET_TRACES,
            }
            built = await client.post("/api/datasets/build", json=build, timeout=300)
            assert built.status_code == 201, built.text
            count: int = built.json()["trace_count"]
            return count

    def trace(self, rng: random.Random, writer: int) -> dict[str, Any]:
        number = next(self.numbers)
        body = typical_trace(rng, number)
        body["meta"] = {"source": "load", "writer": writer, "n": number}
        return body

    async def writer(self, number: int) -> None:
        rng = random.Random(number)
        async with self.client() as client:
            for sent in itertools.count():
                if not self.loading():
                    return
                if sent % BATCH_EVERY == BATCH_EVERY - 1:
                    bodies = [self.trace(rng, number) for _ in range(BATCH_SIZE)]
                    response = await self.request(
                        "post_batch", client, "POST", "/api/traces/batch", 201, json=bodies
                    )
                    if response is not None:
                        ids = [summary["id"] for summary in response.json()["traces"]]
                        self.posted.update(zip(ids, bodies, strict=True))
                else:
                    body = self.trace(rng, number)
                    response = await self.request(
                        "post_trace", client, "POST", "/api/traces", 201, json=body
                    )
                    if response is not None:
                        self.posted[response.json()["id"]] = body

    async def reader(self) -> None:
        """Walk the list newest first with cursors to its end, again and again; a walk must
        never show a trace twice."""
        cursor: str | None = None
        seen: set[str] = set()
        async with self.client() as client:
            while self.loading():
                params: dict[str, Any] = {"limit": PAGE_LIMIT}
                if cursor is not None:
                    params["cursor"] = cursor
                response = await self.request(
                    "list_page", client, "GET", "/api/traces", 200, params=params
                )
                if response is None:
                    cursor, seen = None, set()
                    continue
                page = response.json()
                ids = {summary["id"] for summary in page["data"]}
                if ids & seen:
                    self.repeated += len(ids & seen)
                    self.tallies["list_page"].fail(f"a walk showed {len(ids & seen)} ids again")
                seen |= ids
                cursor = page["pagination"]["next_cursor"]
                if cursor is None:
                    self.walks += 1
                    seen = set()

    async def exporter(self, count: int) -> None:
        """Stream the dataset's export in each format in turn; each must hold every trace of
        the dataset and be the same bytes as that format's first."""
        digests: dict[str, str] = {}
        path = f"/api/datasets/{DATASET_KEY}/export.jsonl"
        async with self.client() as client:
            for turn in itertools.count():
                if not self.loading():
                    return
                form = EXPORT_FORMATS[turn % len(EXPORT_FORMATS)]
                response = await self.request(
                    "export", client, "GET", path, 200, params={"format": form}
                )
                if response is None:
                    continue
                self.exports += 1
                lines = response.content.count(b"\n")
                digest = hashlib.sha256(response.content).hexdigest()
                if lines != count or digests.setdefault(form, digest) != digest:
                    self.tallies["export"].fail(
                        f"export {form}: {lines} lines, sha256 {digest[:12]}; expected "
                        f"{count} lines, sha256 {digests[form][:12]}"
                    )

    async def trainer(self) -> dict[str, Any]:
        """Start the run and follow its status until it ends."""
        started = time.monotonic()
        async with self.client() as client:
            body = {"manifest_yaml": manifest_yaml(DATASET_KEY)}
            response = await self.request("run", client, "POST", "/api/tunix/run", 202, json=body)
            if response is None:
                return {"status": "not started", "error": self.tallies["run"].examples[-1:]}
            run_id = response.json()["run_id"]
            while time.monotonic() < started + RUN_TIMEOUT_SECONDS:
                await asyncio.sleep(1)
                response = await self.request(
                    "run", client, "GET", f"/api/tunix/runs/{run_id}/status", 200
                )
                if response is None:
                    continue
                status = response.json()
                if status["status"] in ("succeeded", "failed", "cancelled"):
                    return {
                        "status": status["status"],
                        "error": status["error"],
                        "steps": status["last_step"],
                        "seconds": round(time.monotonic() - started, 1),
                        "ended_while_loaded": self.loading(),
                    }
        return {"status": f"still running after {RUN_TIMEOUT_SECONDS:.0f} s", "error": None}

    async def read_back(self) -> list[str]:
        """Read `READ_BACK` traces answered 201, at random, back by id from the server; returns
        those missing or different."""
        items = random.Random(0).sample(
            sorted(self.posted.items()), min(READ_BACK, len(self.posted))
        )
        wrong: list[str] = []

        async def check(share: list[tuple[str, dict[str, Any]]]) -> None:
            async with self.client() as client:
                for trace_id, body in share:
                    response = await client.get(f"/api/traces/{trace_id}")
                    if response.status_code != 200 or response.json()["payload"] != body:
                        wrong.append(trace_id)

        await asyncio.gather(*(check(items[n::CHECKERS]) for n in range(CHECKERS)))
        return wrong

    async def run(self) -> dict[str, Any]:
        dataset_traces = await self.prepare()
        load_before = os.getloadavg()[0]
        self.deadline = time.monotonic() + self.seconds
        run, *_ = await asyncio.gather(
            self.trainer(),
            *(self.writer(n) for n in range(WRITERS)),
            *(self.reader() for _ in range(READERS)),
            self.exporter(dataset_traces),
        )
        load_after = os.getloadavg()[0]
        self.wrong_by_id = await self.read_back()
        return {
            "requests": {kind: tally.figures() for kind, tally in self.tallies.items()},
            "traces_answered_201": len(self.posted),
            "reader_walks": self.walks,
            "ids_repeated_in_a_walk": self.repeated,
            "dataset_traces": dataset_traces,
            "exports": self.exports,
            "run": run,
            "load_average_1min_before": round(load_before, 2),
            "load_average_1min_after": round(load_after, 2),
            "failures": [example for tally in self.tallies.values() for example in tally.examples],
        }


def lost_traces(url: str, posted: dict[str, dict[str, Any]], workdir: Path) -> list[str]:
    """The traces of `posted` that `tunix-rt traces export` of the database does not hold
    with exactly the payload posted."""
    path = workdir / "traces.jsonl"
    run_cli(url, "traces", "export", "--source", "load", "-o", str(path))
    stored: dict[str, dict[str, Any]] = {}
    with path.open("rb") as lines:
        for line in lines:
            trace = orjson.loads(line)
            del trace["created_at"]
            stored[trace.pop("id")] = trace
    return [trace_id for trace_id, body in posted.items() if stored.get(trace_id) != body]


def bench(url: str, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tunix-rt-load-") as tmp:
        folders = {
            "TUNIX_RT_DATA_DIR": str(Path(tmp) / "data"),
            "TUNIX_RT_RUNS_DIR": str(Path(tmp) / "runs"),
        }
        with live_server(url, port=free_port(), **folders) as base:
            load = Load(base, seconds)
            figures = asyncio.run(load.run())
        started = time.perf_counter()  # the server has stopped: every answered write must stay
        lost = sorted(set(lost_traces(url, load.posted, Path(tmp))) | set(load.wrong_by_id))
    figures["traces_lost"] = len(lost)
    figures["verify_seconds"] = round(time.perf_counter() - started, 1)
    figures["failures"] += [
        f"trace {trace_id} lost or changed" for trace_id in lost[:EXAMPLES_KEPT]
    ]
    return figures


def problems(figures: dict[str, Any]) -> list[str]:
    """Why the figures of one backend fail the benchmark (none when the load held)."""
    found = []
    for kind, request in figures["requests"].items():
        if request["5xx"] or request["failed"]:
            found.append(f"{kind}: {request['5xx']} answered 5xx, {request['failed']} failed")
    if figures["traces_lost"]:
        found.append(f"{figures['traces_lost']} traces answered 201 are missing or changed")
    if figures["run"]["status"] != "succeeded":
        found.append(f"the run {figures['run']['status']}: {figures['run']['error']}")
    return found


def markdown(seconds: float, backends: dict[str, dict[str, Any]]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    rows = [
        f"{seconds:g} s of load:",
        "",
        "| backend | request | served | 5xx | failed | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for backend, figures in backends.items():
        for kind, label in KINDS.items():
            request = figures["requests"][kind]
            rows.append(
                f"| {backend} | {label} | {request['served']:,} | {request['5xx']} | "
                f"{request['failed']} | {ms(request['p50_ms'])} | {ms(request['p99_ms'])} |"
            )
    rows += [
        "",
        "| backend | traces answered 201 | traces lost | run | run seconds | load average |",
        "|---|---:|---:|---|---:|---|",
    ]
    for backend, figures in backends.items():
        run = figures["run"]
        rows.append(
            f"| {backend} | {figures['traces_answered_201']:,} | {figures['traces_lost']} | "
            f"{run['status']} ({run.get('steps')} steps) | {run.get('seconds', '-')} | "
            f"{figures['load_average_1min_before']} → {figures['load_average_1min_after']} |"
        )
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TUNIX_RT_TEST_POSTGRES_URL"),
        help="also run on this PostgreSQL database (its public schema is emptied first)",
    )
    args = parser.parse_args()
    backends: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        backends["sqlite"] = bench(database_url("sqlite", Path(tmp)), args.seconds)
    if args.postgres_url:
        asyncio.run(reset_postgres(args.postgres_url))
        backends["postgres"] = bench(args.postgres_url, args.seconds)
    json.dump({"seconds": args.seconds, **backends}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stderr.write(markdown(args.seconds, backends))
    failed = {backend: problems(figures) for backend, figures in backends.items()}
    for backend, found in failed.items():
        for problem in found:
            sys.stderr.write(f"{backend}: {problem}\n")
    if any(failed.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
