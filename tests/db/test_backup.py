"""`tunix-rt db backup FILE`: a consistent copy of a SQLite database taken while a server writes
to it, and the cases it refuses."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import orjson
import pytest

from helpers.factories import make_trace
from helpers.server import cli_env, run_cli, running_server
from tunix_rt.datasets.builder import build_dataset
from tunix_rt.datasets.schema import DatasetBuildRequest
from tunix_rt.db.backup import backup_database
from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import upgrade
from tunix_rt.errors import TunixRTError
from tunix_rt.runs import store as runs_store
from tunix_rt.traces import store
from tunix_rt.traces.schema import ReasoningTrace

WRITERS = 4
MANIFEST = {
    "model": {"model_id": "tunix-rt/tiny"},
    "dataset": {"key": "before-v1", "path": "datasets/before-v1/tunix_sft.jsonl"},
    "output": {"output_dir": "model"},
}


def _seed(database_url: str, data_dir: Path) -> tuple[set[uuid.UUID], uuid.UUID]:
    """200 traces, dataset before-v1 of them and a finished run: their ids."""

    async def seed() -> tuple[set[uuid.UUID], uuid.UUID]:
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            traces = [ReasoningTrace.model_validate(make_trace(n)) for n in range(200)]
            created = await store.create_traces(engine, traces)
            request = DatasetBuildRequest(
                dataset_name="before", dataset_version="v1", limit=200, allow_eval_prompts=True
            )
            await build_dataset(engine, data_dir, request)
            run_id = await runs_store.create_run(
                engine, dataset_key="before-v1", manifest=MANIFEST, status="succeeded"
            )
        finally:
            await engine.dispose()
        return {summary.id for summary in created}, run_id

    return asyncio.run(seed())


def _ids(path: Path, table: str) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {row[0] for row in conn.execute(f"SELECT id FROM {table}")}


def _hex(ids: set[uuid.UUID]) -> set[str]:
    return {trace_id.hex for trace_id in ids}  # how SQLite stores a UUID column


def test_backup_while_the_server_writes(tmp_path: Path) -> None:
    database = tmp_path / "tunix_rt.db"
    url = f"sqlite+aiosqlite:///{database}"
    traces_before, run_id = _seed(url, tmp_path / "data")
    copy = tmp_path / "backups" / "copy.db"
    copy.parent.mkdir()
    acked: list[tuple[float, uuid.UUID]] = []  # when each write was answered, and its id
    stop = threading.Event()

    def write(base_url: str, client_no: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for n in range(100_000):
                if stop.is_set():
                    return
                response = client.post("/api/traces", json=make_trace(10_000 * client_no + n))
                assert response.status_code == 201, response.text
                acked.append((time.monotonic(), uuid.UUID(response.json()["id"])))

    with (
        running_server(url, TUNIX_RT_RUN_EXECUTOR="false") as base_url,
        ThreadPoolExecutor(WRITERS) as pool,
    ):
        writers = [pool.submit(write, base_url, c) for c in range(WRITERS)]
        try:
            while len(acked) < 20:
                for w in writers:
                    if w.done():
                        w.result()  # raises what stopped the writer
                        raise AssertionError("a writer stopped")
                time.sleep(0.01)
            started = time.monotonic()
            result = run_cli(cli_env(url), "db", "backup", str(copy), text=True)
            finished = time.monotonic()
        finally:
            stop.set()
        for w in writers:
            w.result()
    assert result.returncode == 0, result.stderr
    during = [trace_id for at, trace_id in acked if started < at < finished]
    assert during, "no write was answered while the backup ran"

    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    copied = _ids(copy, "traces")
    before_backup = _hex(traces_before) | _hex({trace_id for at, trace_id in acked if at < started})
    assert before_backup <= copied  # everything committed before the backup began
    assert copied <= _ids(database, "traces")  # and nothing that was never stored
    assert _ids(copy, "runs") == {run_id.hex}
    assert not Path(f"{copy}-wal").exists()  # one self-contained file

    summary = orjson.loads(result.stdout)
    assert summary == {
        "path": str(copy),
        "size_bytes": copy.stat().st_size,
        "traces": len(copied),
        "datasets": 1,
        "runs": 1,
    }
    assert result.stderr == (
        f"backed up {database} to {copy}: {copy.stat().st_size:,} bytes; "
        f"traces: {len(copied):,}, datasets: 1, runs: 1\n"
    )
    assert [p.name for p in copy.parent.iterdir()] == ["copy.db"]  # no temporary file left

    # The copy is a database the product opens: its dataset, traces and run are all there.
    from_copy = cli_env(f"sqlite+aiosqlite:///{copy}")
    shown = run_cli(from_copy, "datasets", "show", "before-v1", text=True)
    assert shown.returncode == 0, shown.stderr
    assert set(orjson.loads(shown.stdout)["trace_ids"]) == {str(t) for t in traces_before}


def _backup(database_url: str, *args: str) -> tuple[int, str]:
    result = run_cli(cli_env(database_url), "db", "backup", *args, text=True)
    return result.returncode, result.stderr


def test_backup_command_refuses_with_exit_1(tmp_path: Path) -> None:
    database = tmp_path / "tunix_rt.db"
    url = f"sqlite+aiosqlite:///{database}"
    _seed(url, tmp_path / "data")
    target = tmp_path / "copy.db"
    target.write_bytes(b"an older backup")

    assert _backup(url, str(target)) == (
        1,
        f"error: {target} already exists; pass --force to replace it\n",
    )
    assert target.read_bytes() == b"an older backup"
    assert _backup("postgresql+asyncpg://alice:secret@db.example:5433/tunix", "tunix.dump") == (
        1,
        "error: db backup copies SQLite databases; this is PostgreSQL: back it up with "
        "`pg_dump -Fc -h db.example -p 5433 -U alice -f tunix.dump tunix` and restore it with "
        "pg_restore\n",
    )
    assert not Path("tunix.dump").exists()

    code, stderr = _backup(url, str(target), "--force")
    assert code == 0, stderr
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT count(*) FROM traces").fetchone() == (200,)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy.db")]  # no temporary


def _refused(database_url: str, target: Path, **options: bool) -> str:
    with pytest.raises(TunixRTError) as refused:
        backup_database(database_url, target, **options)
    return f"{type(refused.value).__name__}: {refused.value}"


def test_backup_refusals(tmp_path: Path) -> None:
    database = tmp_path / "tunix_rt.db"
    url = f"sqlite+aiosqlite:///{database}"
    copy = tmp_path / "copy.db"
    assert _refused(url, copy) == f"NotFoundError: no database at {database}"
    assert _refused("sqlite+aiosqlite:///:memory:", copy) == (
        "InvalidInputError: an in-memory SQLite database has no file to back up"
    )
    assert _refused("postgresql+asyncpg://bob@localhost/db", copy) == (
        "InvalidInputError: db backup copies SQLite databases; this is PostgreSQL: back it up "
        f"with `pg_dump -Fc -h localhost -U bob -f {copy} db` and restore it with pg_restore"
    )

    _seed(url, tmp_path / "data")
    assert _refused(url, database, force=True) == (
        f"InvalidInputError: {database} is the database itself; back it up to another file"
    )
    assert _refused(url, tmp_path) == (
        f"InvalidInputError: {tmp_path} is a folder; name the backup's file"
    )
    # Folders the copy cannot be written in (permissions do not stop root, these stop anyone).
    missing = tmp_path / "no-such-folder"
    assert _refused(url, missing / "copy.db") == (
        f"InvalidInputError: cannot write in {missing}: No such file or directory"
    )
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    assert _refused(url, a_file / "copy.db") == (
        f"InvalidInputError: cannot write in {a_file}: Not a directory"
    )
    not_a_database = tmp_path / "not.db"
    not_a_database.write_bytes(b"x" * 4096)
    assert _refused(f"sqlite+aiosqlite:///{not_a_database}", copy) == (
        f"InvalidInputError: {not_a_database} is not a SQLite database"
    )
    assert not copy.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".copy.db")]
