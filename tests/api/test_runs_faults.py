"""The executor under faults, with real servers, worker processes and tiny Tunix runs: a
worker that does not stop when cancelled, a run that raises, two runs at once, the server
stopped while a run trains, the server killed while runs train, and a running run's log
followed as it is written."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import BACKENDS, module_database
from helpers.runs import (
    FINAL,
    alive,
    start,
    store_arithmetic,
    wait_for,
    wait_for_pid,
    wait_for_steps,
    wait_until_gone,
)
from helpers.server import cli_env, running_server, server_process
from tunix_rt.db.engine import create_engine
from tunix_rt.runs import store
from tunix_rt.runs.executor import SERVER_STOPPED
from tunix_rt.runs.jobs import PROCESS_GONE
from tunix_rt.runs.schema import RunRecord

pytestmark = pytest.mark.slow

GRACE_SECONDS = 3
#: The dataset's traces: few, so that a worker's set-up (its tokenizer) is quick.
TRACES = 64


@dataclass(frozen=True)
class Live:
    """A server with a dataset to train on; two runs may train at once."""

    client: httpx.Client
    runs_dir: Path
    env: dict[str, str]  # for `tunix-rt` commands on the same database and runs folder


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The server on SQLite, and on PostgreSQL when TUNIX_RT_TEST_POSTGRES_URL names one."""
    folder = tmp_path_factory.mktemp(f"faults-{request.param}")
    database_url = module_database(request.param, folder)
    env = {
        "TUNIX_RT_RUNS_DIR": str(folder / "runs"),
        "TUNIX_RT_DATA_DIR": str(folder / "data"),
    }
    with (
        running_server(
            database_url,
            TUNIX_RT_RUN_CANCEL_GRACE_SECONDS=str(GRACE_SECONDS),
            TUNIX_RT_MAX_CONCURRENT_RUNS="2",
            **env,
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        store_arithmetic(client, TRACES)
        yield Live(client, (folder / "runs").resolve(), cli_env(database_url, **env))


def wait_until_it_catches_sigterm(pid: int, timeout: float = 120) -> None:
    """Until process `pid` has a SIGTERM handler. Before, SIGTERM has its default action, which
    ends even a stopped process at once: a worker frozen while it was still starting up would
    not need the kill this test is about."""
    deadline = time.monotonic() + timeout
    bit = 1 << (signal.SIGTERM - 1)
    while True:
        status = Path(f"/proc/{pid}/status").read_text()
        caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
        if int(caught.split()[1], 16) & bit:
            return
        assert time.monotonic() < deadline, "the worker never set up its SIGTERM handler"
        time.sleep(0.05)


def test_a_worker_that_does_not_stop_is_killed_after_the_grace_period(live: Live) -> None:
    """A worker frozen before its first step (SIGSTOP: SIGTERM stays pending, as with a step
    stuck in native code) cannot stop at its next step nor see the cancel in the database:
    the executor kills it once the grace period is over, and the run ends cancelled."""
    client = live.client
    run_id = start(client, max_steps=100_000)
    pid = wait_for_pid(client, run_id)
    wait_until_it_catches_sigterm(pid)
    os.kill(pid, signal.SIGSTOP)
    try:
        asked = time.monotonic()
        cancel = client.post(f"/api/tunix/runs/{run_id}/cancel")
        assert cancel.json() == {"run_id": run_id, "status": "cancelling"}
        run = wait_for(client, run_id, FINAL, timeout=30)
        took = time.monotonic() - asked
        wait_until_gone(pid)
    finally:
        if alive(pid):  # the test failed: do not leave it frozen
            os.kill(pid, signal.SIGKILL)
    assert run["status"] == "cancelled"
    assert run["error"] == (
        f"cancelled (the worker did not stop within {GRACE_SECONDS} s and was killed)"
    )
    assert run["result"] is None  # killed: it never stopped cleanly nor saved a checkpoint
    assert GRACE_SECONDS <= took < GRACE_SECONDS + 10


def test_a_run_that_raises_fails_with_the_exception_as_its_error(live: Live) -> None:
    """A folder where the run writes its result: training runs, then writing the result
    raises, in the worker, long after the run was validated and started."""
    client = live.client
    run_id = start(client, max_steps=4)
    in_the_way = live.runs_dir / run_id / "model" / "result.json"
    in_the_way.mkdir(parents=True)  # before the worker gets there: it is still starting
    run = wait_for(client, run_id, FINAL, timeout=300)
    # The result is written whole: to a temporary file, then renamed onto the folder.
    error = run["error"]
    assert run["status"] == "failed"
    assert re.fullmatch(
        rf"IsADirectoryError: \[Errno 21\] Is a directory: '{in_the_way.parent}/\.result\.json\."
        rf"\w+\.tmp' -> '{in_the_way}'",
        error,
    ), error
    metrics = client.get(f"/api/tunix/runs/{run_id}/metrics").json()["data"]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]  # it failed after training
    log = client.get(f"/api/tunix/runs/{run_id}/logs", params={"tail": 200}).text
    assert "Traceback (most recent call last):" in log
    assert log.splitlines()[-1] == f"run {run_id}: failed: {error}"
    assert client.get(f"/api/tunix/runs/{run_id}/status").json()["error"] == error


def test_two_runs_train_at_once(live: Live) -> None:
    client = live.client
    runs = {start(client, max_steps=4), start(client, max_steps=4)}
    deadline = time.monotonic() + 120
    while True:  # both running together, not one after the other
        listed = client.get("/api/tunix/runs", params={"status": "running"}).json()["data"]
        if {r["id"] for r in listed} == runs:
            break
        assert time.monotonic() < deadline, f"running: {listed}"
        time.sleep(0.1)
    first, second = (wait_for(client, run_id, FINAL, timeout=300) for run_id in sorted(runs))
    assert (first["status"], second["status"]) == ("succeeded", "succeeded"), (first, second)
    at = {
        (run["id"], moment): datetime.fromisoformat(run[f"{moment}_at"])
        for run in (first, second)
        for moment in ("started", "finished")
    }
    a, b = first["id"], second["id"]
    assert at[a, "started"] < at[b, "finished"] and at[b, "started"] < at[a, "finished"]
    for run in (first, second):
        steps = client.get(f"/api/tunix/runs/{run['id']}/metrics").json()["data"]
        assert [m["step"] for m in steps] == [1, 2, 3, 4]


class Lines:
    """The lines of a stream, read on a thread: each within a timeout, never a hung test."""

    def __init__(self, source: Iterable[str]) -> None:
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()

        def read() -> None:
            try:
                for line in source:
                    self._queue.put(line.rstrip("\n"))
            finally:
                self._queue.put(None)

        threading.Thread(target=read, daemon=True).start()

    def until(self, done: Callable[[list[str]], bool], timeout: float = 120) -> list[str]:
        """Lines until `done(lines so far)`, or the stream's end ([..., None] is not returned:
        the assertion fails)."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while not done(lines):
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the stream ended: {lines}"
            lines.append(line)
        return lines

    def rest(self, timeout: float = 60) -> list[str]:
        """Every line up to the stream's end."""
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while (line := self._queue.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            lines.append(line)
        return lines


def steps_in(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines if line.startswith("step ")]


def two_steps(lines: list[str]) -> bool:
    return len(steps_in(lines)) >= 2


def test_following_a_running_runs_log(live: Live) -> None:
    """`tunix-rt runs logs ID --follow` and `?follow=true` give the lines of a running run as
    they are written, and end (exit code 0) when it ends."""
    client = live.client
    run_id = start(client, max_steps=100_000)
    path = f"/api/tunix/runs/{run_id}/logs"
    with client.stream("GET", path, params={"follow": True, "tail": 1}) as response:
        assert response.status_code == 200
        api = Lines(response.iter_lines())
        api_seen = api.until(two_steps)
        cli = subprocess.Popen(
            [sys.executable, "-m", "tunix_rt", "runs", "logs", run_id, "--follow", "--tail", "1"],
            env=live.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert cli.stdout is not None and cli.stderr is not None
            cli_lines = Lines(cli.stdout)
            cli_seen = cli_lines.until(two_steps)
            # Read while it trains: the lines came as they were written, not at the end.
            assert client.get(f"/api/tunix/runs/{run_id}").json()["status"] == "running"
            for seen in (api_seen, cli_seen):
                steps = steps_in(seen)
                assert steps == list(range(steps[0], steps[0] + len(steps)))
            assert cli.poll() is None
            cancel = client.post(f"/api/tunix/runs/{run_id}/cancel")
            assert cancel.json()["status"] == "cancelling"
            assert cli.wait(timeout=60) == 0, cli.stderr.read()
            cli_rest = cli_lines.rest()
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        api_rest = api.rest()
    run = wait_for(client, run_id, FINAL, timeout=5)
    assert run["status"] == "cancelled"
    last = f"run {run_id}: cancelled after {run['result']['steps']} steps"
    assert api_rest[-1].startswith(last)
    assert cli_rest[-1].startswith(last)
    log = client.get(path, params={"tail": 1}).text
    assert log.startswith(last)


def stored_run(database_url: str, run_id: str) -> RunRecord:
    """The run as the database holds it (the server is gone)."""

    async def read() -> RunRecord:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await store.get_run(conn, uuid.UUID(run_id))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_stopping_the_server_stops_its_runs(database_url: str, tmp_path: Path) -> None:
    """SIGTERM to a server while a run trains and a client follows its log (Ctrl-C, SIGINT,
    is the same to the server): the follow is closed, the worker stops at its next step, and
    the run ends cancelled with its checkpoint and the reason; no worker is left."""
    with (
        server_process(
            database_url,
            TUNIX_RT_RUNS_DIR=str(tmp_path / "runs"),
            TUNIX_RT_DATA_DIR=str(tmp_path / "data"),
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        store_arithmetic(client, TRACES)
        run_id = start(client, max_steps=100_000)
        wait_for_steps(client, run_id)
        pid = client.get(f"/api/tunix/runs/{run_id}").json()["pid"]
        path = f"/api/tunix/runs/{run_id}/logs"
        with client.stream("GET", path, params={"follow": True, "tail": 1}) as follower:
            assert next(follower.iter_lines()).startswith("step ")
            asked = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=60)
            took = time.monotonic() - asked
        assert not alive(pid)
    run = stored_run(database_url, run_id)
    assert (run.status, run.error) == ("cancelled", SERVER_STOPPED)
    result: dict[str, Any] = run.result or {}
    assert result["status"] == "stopped"
    assert result["checkpoint_step"] == result["steps"] > 0
    assert took < 30


def test_a_killed_servers_workers_are_watched_by_the_next_server(
    database_url: str, tmp_path: Path
) -> None:
    """A server SIGKILLed while two runs train: its workers go on training, and the next server
    on the same database and folders watches them as it watches its own. One worker that dies
    without recording its end fails its run; one that is cancelled but frozen (SIGSTOP) is
    killed once the grace period is over, and its run ends cancelled."""
    env = {
        "TUNIX_RT_RUNS_DIR": str(tmp_path / "runs"),
        "TUNIX_RT_DATA_DIR": str(tmp_path / "data"),
        "TUNIX_RT_RUN_CANCEL_GRACE_SECONDS": str(GRACE_SECONDS),
        "TUNIX_RT_MAX_CONCURRENT_RUNS": "2",
    }
    with (
        server_process(database_url, **env) as first,
        httpx.Client(base_url=first.base_url, timeout=60) as client,
    ):
        store_arithmetic(client, TRACES)
        dies, frozen = start(client, max_steps=100_000), start(client, max_steps=100_000)
        for run_id in (dies, frozen):
            wait_for_steps(client, run_id)
        pids = {run_id: wait_for_pid(client, run_id) for run_id in (dies, frozen)}
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    try:
        assert all(alive(pid) for pid in pids.values())  # the workers outlive their server
        with (
            running_server(database_url, **env) as base_url,
            httpx.Client(base_url=base_url, timeout=60) as client,
        ):
            for run_id in (dies, frozen):  # alive: the new server leaves them running
                assert client.get(f"/api/tunix/runs/{run_id}").json()["status"] == "running"
            os.kill(pids[dies], signal.SIGKILL)
            died = wait_for(client, dies, FINAL, timeout=30)
            wait_until_it_catches_sigterm(pids[frozen])
            os.kill(pids[frozen], signal.SIGSTOP)
            asked = time.monotonic()
            cancel = client.post(f"/api/tunix/runs/{frozen}/cancel")
            assert cancel.json() == {"run_id": frozen, "status": "cancelling"}
            cancelled = wait_for(client, frozen, FINAL, timeout=30)
            took = time.monotonic() - asked
    finally:
        for pid in pids.values():
            if alive(pid):  # the test failed: leave no worker behind
                os.kill(pid, signal.SIGKILL)
    assert (died["status"], died["error"]) == ("failed", PROCESS_GONE)
    assert (cancelled["status"], cancelled["error"]) == (
        "cancelled",
        f"cancelled (the worker did not stop within {GRACE_SECONDS} s and was killed)",
    )
    assert GRACE_SECONDS <= took < GRACE_SECONDS + 10
