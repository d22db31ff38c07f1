"""A server killed (SIGKILL) while eight clients write keeps every write it answered 201, stores
no batch in part, and serves again when started again on the same database."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from helpers.server import start_server, stop_server
from tunix_rt.db.engine import create_engine
from tunix_rt.db.models import traces_table as T

CLIENTS = 8
BATCH = 5
#: One round per seed, on the same database: the seed draws the moment of the kill.
SEEDS = (11, 12, 13)
#: Answered writes of a round before the kill may come (the kill lands under load).
ACKED_BEFORE_KILL = 16
COMPARED = ("prompt", "steps", "final_answer", "meta")


@dataclass
class Written:
    """What one client sent and what the server answered 201 to."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # prompt -> payload
    acked: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)  # id -> payload
    batches: dict[str, bool] = field(default_factory=dict)  # batch's meta.source -> answered


def _trace(tag: str, k: int, rng: random.Random) -> dict[str, Any]:
    a, b = rng.randrange(1000), rng.randrange(1000)
    steps = [
        {
            "i": i,
            "type": "reasoning",
            "content": f"{tag}/{k} step {i}: {a} + {b} → é {rng.random()}",
        }
        for i in range(rng.randint(1, 4))
    ]
    return {
        "trace_version": "1.0",
        "prompt": f"{tag}/{k}: what is {a} + {b}?",
        "steps": steps,
        "final_answer": str(a + b),
        "meta": {"source": tag, "k": k, "weight": rng.random(), "tags": [tag, {"k": k}]},
    }


def _writer(base_url: str, round_no: int, client_no: int, written: Written) -> Written:
    """Post single traces and batches of BATCH until the server stops answering."""
    rng = random.Random(f"{round_no}-{client_no}")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for n in range(100_000):
            tag = f"r{round_no}-c{client_no}-{n}"
            batch = n % 3 == 2
            traces = [_trace(tag, k, rng) for k in range(BATCH if batch else 1)]
            written.sent.update((trace["prompt"], trace) for trace in traces)
            if batch:
                written.batches[tag] = False
            try:
                if batch:
                    response = client.post("/api/traces/batch", json=traces)
                else:
                    response = client.post("/api/traces", json=traces[0])
            except httpx.TransportError:  # the server is gone
                return written
            assert response.status_code == 201, response.text
            body = response.json()
            ids = [item["id"] for item in body["traces"]] if batch else [body["id"]]
            written.acked.update(
                (uuid.UUID(trace_id), trace) for trace_id, trace in zip(ids, traces, strict=True)
            )
            if batch:
                written.batches[tag] = True
    raise AssertionError("the server was never killed")


def _stored(database_url: str) -> dict[uuid.UUID, dict[str, Any]]:
    async def read() -> dict[uuid.UUID, dict[str, Any]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(T.c.id, T.c.payload))).all()
        finally:
            await engine.dispose()
        return {row.id: row.payload for row in rows}

    return asyncio.run(read())


def _same(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    return all(stored.get(name) == sent[name] for name in COMPARED)


def _kill_under_load(
    process: subprocess.Popen[bytes],
    futures: list[Future[Written]],
    written: list[Written],
    rng: random.Random,
) -> None:
    """SIGKILL the server at a moment drawn by `rng`, once it has answered some writes, while
    every client is still writing (it is killed in any case, so that the clients stop)."""
    try:
        deadline = time.monotonic() + 60
        while sum(len(w.acked) for w in written) < ACKED_BEFORE_KILL:
            _raise_if_stopped(futures)
            assert time.monotonic() < deadline, "the server answered too few writes"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        _raise_if_stopped(futures)
    finally:
        process.send_signal(signal.SIGKILL)
        stop_server(process)  # only waits for it, and closes its stderr
    assert process.returncode == -signal.SIGKILL


def _raise_if_stopped(futures: list[Future[Written]]) -> None:
    for future in futures:
        if future.done():
            future.result()  # raises what stopped the client
            raise AssertionError("a client stopped writing before the kill")


def test_killed_server_keeps_every_answered_write(database_url: str, tmp_path: Path) -> None:
    env = {"TUNIX_RT_DATA_DIR": str(tmp_path / "data"), "TUNIX_RT_RUNS_DIR": str(tmp_path / "r")}
    process, base_url = start_server(database_url, str(tmp_path), env)
    sent: dict[str, dict[str, Any]] = {}
    acked: dict[uuid.UUID, dict[str, Any]] = {}
    batches: dict[str, bool] = {}
    try:
        for round_no, seed in enumerate(SEEDS):
            written = [Written() for _ in range(CLIENTS)]
            with ThreadPoolExecutor(CLIENTS) as pool:
                futures = [
                    pool.submit(_writer, base_url, round_no, c, written[c]) for c in range(CLIENTS)
                ]
                _kill_under_load(process, futures, written, random.Random(seed))
                for future in futures:
                    future.result()
            for w in written:
                sent.update(w.sent)
                acked.update(w.acked)
                batches.update(w.batches)

            process, base_url = start_server(database_url, str(tmp_path), env)  # same database
            stored = _stored(database_url)
            lost = [trace_id for trace_id in acked if trace_id not in stored]
            assert not lost, f"round {round_no}: {len(lost)} answered writes lost"
            assert all(_same(stored[trace_id], trace) for trace_id, trace in acked.items())
            # Nothing stored that was not sent, nor changed; every batch whole or absent.
            assert all(_same(payload, sent[payload["prompt"]]) for payload in stored.values())
            per_source = Counter(payload["meta"]["source"] for payload in stored.values())
            for tag, answered in batches.items():
                assert per_source[tag] in ((BATCH,) if answered else (0, BATCH)), tag

            # The restarted server serves: health, and a new write read back.
            after = _trace(f"after-{round_no}", 0, random.Random(seed))
            with httpx.Client(base_url=base_url) as client:
                assert client.get("/api/health").status_code == 200
                created = client.post("/api/traces", json=after)
                assert created.status_code == 201, created.text
                got = client.get(f"/api/traces/{created.json()['id']}").json()
            assert _same(got["payload"], after)
            sent[after["prompt"]] = after
            acked[uuid.UUID(got["id"])] = after
        assert sum(answered for answered in batches.values()) > 0  # batches did go through
    finally:
        stop_server(process)
