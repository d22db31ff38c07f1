"""An import killed half-way leaves the database as it was before the import."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from helpers.factories import make_trace
from helpers.server import cli_env
from tunix_rt.db.engine import create_engine
from tunix_rt.traces.store import count_traces


def _count(database_url: str) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await count_traces(conn)
        finally:
            await engine.dispose()

    return asyncio.run(count())


def _read_position(pid: int, path: Path) -> int:
    """How far the process has read into `path` (from /proc), or 0 before it opened it."""
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            if Path(os.readlink(fd)) == path:
                for line in (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().splitlines():
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def test_killed_import_stores_nothing(database_url: str, tmp_path: Path) -> None:
    seed = tmp_path / "seed.jsonl"
    seed.write_bytes(b"".join(orjson.dumps(make_trace(n)) + b"\n" for n in range(10)))
    env = cli_env(database_url)
    subprocess.run(
        [sys.executable, "-m", "tunix_rt", "traces", "import", str(seed)], env=env, check=True
    )
    assert _count(database_url) == 10

    big = tmp_path / "big.jsonl"
    line = orjson.dumps(make_trace(1, steps=5, prompt="p" * 400)) + b"\n"
    big.write_bytes(line * 150_000)
    size = big.stat().st_size
    process = subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", "traces", "import", str(big.resolve())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    position = 0
    while position < size * 0.3:  # well into the import: rows are already in the transaction
        assert process.poll() is None, "the import finished before it could be interrupted"
        assert time.monotonic() < deadline
        position = _read_position(process.pid, big.resolve())
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert position < size
    assert _count(database_url) == 10

    # The database is intact and usable after the crash.
    again = subprocess.run(
        [sys.executable, "-m", "tunix_rt", "traces", "import", str(seed)], env=env, check=True
    )
    assert again.returncode == 0
    assert _count(database_url) == 20
