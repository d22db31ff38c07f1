"""Commands that run out of disk: an `error:` line, exit 1, and nothing half-written.

The full disk is a file size limit on the command's process (helpers/full_disk.py), whatever
file it writes: the `-o` file, the export cache, the SQLite database.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.factories import make_trace, write_jsonl
from helpers.full_disk import FULL, limited
from helpers.server import cli_env, run_cli


def assert_one_error_line(result: subprocess.CompletedProcess[bytes], expected: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == expected, stderr


def long_traces(count: int) -> list[object]:
    """Traces of about 2 KB each."""
    return [make_trace(n, prompt=f"{n}: " + "p" * 2000) for n in range(count)]


def test_exports_to_a_full_disk_leave_the_output_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = cli_env(database_url, TUNIX_RT_DATA_DIR=str(data), COLUMNS="200")
    source = write_jsonl(tmp_path / "in.jsonl", long_traces(150))  # 300 KB
    assert run_cli(env, "traces", "import", str(source)).returncode == 0
    built = run_cli(env, "datasets", "build", "big", "v1", "--limit", "150")
    assert built.returncode == 0, built.stderr
    out = tmp_path / "out"
    out.mkdir()
    old = out / "old.jsonl"
    old.write_bytes(b"the previous export\n")
    limit = 64 * 1024  # above SQLite's 32 KiB shared-memory file, far below the exports

    for command, target in (
        (("export", "big-v1", "--format", "tunix_sft"), out / "new.jsonl"),
        (("traces", "export"), old),
    ):
        result = limited(env, limit, *command, "-o", str(target))
        assert_one_error_line(result, f"error: could not write {target}: {FULL}")
        assert sorted(p.name for p in out.iterdir()) == ["old.jsonl"]  # no temporary file
        assert old.read_bytes() == b"the previous export\n"
    # Nor a partial entry in the export cache.
    assert list((data / "datasets").glob("*/exports/*")) == []

    # With room, the same export is whole.
    assert run_cli(env, "export", "big-v1", "-o", str(old)).returncode == 0
    assert len(old.read_bytes().splitlines()) == 150


def test_an_import_into_a_full_database_stores_nothing(sqlite_url: str, tmp_path: Path) -> None:
    """The SQLite file is what grows (its write-ahead log, then the database); a PostgreSQL
    server's full disk is the server's, out of this process's reach."""
    env = cli_env(sqlite_url)
    seed = write_jsonl(tmp_path / "seed.jsonl", long_traces(10))
    assert run_cli(env, "traces", "import", str(seed)).returncode == 0
    database = tmp_path / "tunix_rt.db"
    big = write_jsonl(tmp_path / "big.jsonl", long_traces(800))  # 1.6 MB
    room = database.stat().st_size + 512 * 1024

    for args, stdin in (((str(big),), None), (("-",), big.read_bytes())):
        result = limited(env, room, "traces", "import", *args, stdin=stdin)
        assert_one_error_line(
            result,
            # SQLite's word for a write the system refused (ENOSPC would be SQLITE_FULL's
            # "database or disk is full"; a file size limit is EFBIG, an I/O error to it).
            "error: the database could not write its file: the disk is full or a size limit "
            "was reached, or the disk failed (disk I/O error)",
        )
    exported = run_cli(env, "traces", "export", "-o", "-")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 10

    # The database is intact: with room, the same import stores every line.
    again = run_cli(env, "traces", "import", str(big))
    assert again.returncode == 0, again.stderr
    assert "imported 800 traces" in again.stderr.decode()
