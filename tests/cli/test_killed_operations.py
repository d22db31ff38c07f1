"""A dataset build or an export killed (SIGKILL) half-way leaves nothing behind that a later
command could take for its result: no dataset row, no manifest, no export-cache entry."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeVar

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from helpers.server import cli_env
from tunix_rt.clock import utc_now
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.export_cache import ExportCache
from tunix_rt.datasets.schema import DatasetBuildRequest
from tunix_rt.datasets.service import prepare_export
from tunix_rt.db.bulk import insert_trace_rows
from tunix_rt.db.engine import create_engine, sqlite_path
from tunix_rt.db.migrate import upgrade
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.traces.rows import trace_row
from tunix_rt.traces.schema import ReasoningTrace

#: Enough traces that a build or an export takes a while on a busy machine.
TRACES = 20_000
KEY = "big-v1"
T = TypeVar("T")


REQUEST = DatasetBuildRequest(
    dataset_name="big", dataset_version="v1", limit=TRACES, allow_eval_prompts=True
)


def _in_process(database_url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _seed(database_url: str, data_dir: Path, *, build: bool = False) -> None:
    """TRACES traces (one payload, repeated: cheap to store), and with `build` dataset KEY."""

    async def seed(engine: AsyncEngine) -> None:
        await upgrade(engine)
        trace = ReasoningTrace.model_validate(make_trace(1, steps=4))
        async with engine.begin() as conn:
            rows = [trace_row(trace, created_at=utc_now()) for _ in range(TRACES)]
            await insert_trace_rows(conn, rows)
        if build:
            await build_dataset(engine, data_dir, REQUEST)

    _in_process(database_url, seed)


def _dataset_rows(database_url: str) -> tuple[int, int]:
    """Rows of dataset KEY in the datasets and dataset_items tables."""

    async def count(engine: AsyncEngine) -> tuple[int, int]:
        async with engine.connect() as conn:
            datasets = select(func.count()).select_from(D).where(D.c.key == KEY)
            items = select(func.count()).select_from(I).where(I.c.dataset_key == KEY)
            return (
                int((await conn.execute(datasets)).scalar_one()),
                int((await conn.execute(items)).scalar_one()),
            )

    return _in_process(database_url, count)


@contextmanager
def _write_transaction_probe(database_url: str) -> Iterator[Callable[[], bool]]:
    """A function telling whether another connection has a write transaction open: on SQLite
    the write lock is taken (`BEGIN IMMEDIATE` would wait), on PostgreSQL a backend of the
    database holds a transaction id (it has written in its open transaction)."""
    path = sqlite_path(database_url)
    if path is not None:
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as probe:

            def sqlite_writing() -> bool:
                try:
                    probe.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    assert "locked" in str(exc), exc
                    return True
                probe.execute("ROLLBACK")
                return False

            yield sqlite_writing
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )
    with asyncio.Runner() as runner:
        engine = create_engine(database_url)

        async def writers() -> int:
            async with engine.connect() as conn:
                return int((await conn.execute(query)).scalar_one())

        try:
            yield lambda: runner.run(writers()) > 0
        finally:
            runner.run(engine.dispose())


@contextmanager
def _child(env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`tunix-rt ARGS` running in a child process (killed at the end if it still runs)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def _size(path: Path) -> int:
    """The size of `path`, 0 once it is gone."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_killed_build_leaves_no_dataset(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _seed(database_url, data)
    env = cli_env(database_url, TUNIX_RT_DATA_DIR=str(data))
    build = ("datasets", "build", "big", "v1", "--limit", str(TRACES), "--allow-eval-prompts")
    with _write_transaction_probe(database_url) as writing, _child(env, *build) as process:
        deadline = time.monotonic() + 60
        while not writing():
            assert process.poll() is None, "the build finished before its transaction was seen"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.05)  # into the build's transaction
        assert process.poll() is None and writing(), "the build ended before the kill"
        _kill(process)
        while writing():  # PostgreSQL ends the killed client's statement, then rolls back
            assert time.monotonic() < deadline
            time.sleep(0.01)

    assert _dataset_rows(database_url) == (0, 0)
    assert not (data / "datasets").exists()  # no manifest, nor its folder

    # The key is free: the same build succeeds and writes its manifest.
    built = _in_process(database_url, lambda engine: build_dataset(engine, data, REQUEST))
    assert built.trace_count == TRACES
    assert orjson.loads(Path(built.manifest_path).read_bytes())["trace_count"] == TRACES
    assert _dataset_rows(database_url) == (1, TRACES)


def test_killed_export_leaves_no_cache_entry(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _seed(database_url, data, build=True)
    env = cli_env(database_url, TUNIX_RT_DATA_DIR=str(data))
    exports = data / "datasets" / KEY / "exports"
    out = tmp_path / "out.jsonl"
    export = ("export", KEY, "--format", "tunix_sft", "-o", str(out))
    with _child(env, *export) as process:
        deadline = time.monotonic() + 60
        while True:  # the cache's temporary file has its first 64 KiB: the export streams
            partial = list(exports.glob(".*.tmp")) if exports.exists() else []
            if partial and _size(partial[0]) >= 64 * 1024:
                break
            assert process.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        assert process.poll() is None
        _kill(process)

    assert list(exports.glob("*.jsonl")) == []  # no entry: the next export is not served a part
    assert not out.exists()  # nor is the output file there in part
    # It was being written when the kill came: its temporary file is all there is of it.
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.")]

    # The next export renders from the database (nothing cached) and leaves a whole entry.
    async def export_again(engine: AsyncEngine) -> bool:
        cache = ExportCache(data, 2**31)
        prepared = await prepare_export(engine, cache, KEY, "tunix_sft")
        with out.open("wb") as handle:
            await prepared.write_to(handle)
        return prepared.cached

    assert _in_process(database_url, export_again) is False
    (entry,) = exports.glob("*.jsonl")
    assert entry.read_bytes() == out.read_bytes()
    assert out.read_bytes().count(b"\n") == TRACES
