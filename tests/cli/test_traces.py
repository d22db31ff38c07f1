"""`tunix-rt traces ...` and `tunix-rt db upgrade`, run as real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from helpers.factories import make_trace, write_jsonl
from helpers.server import cli_env, run_cli


def tunix_rt(
    database_url: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return run_cli(cli_env(database_url, COLUMNS="200"), *args, stdin=stdin)


def count(database_url: str) -> int:
    listed = tunix_rt(database_url, "traces", "export", "-o", "-")
    assert listed.returncode == 0, listed.stderr
    return len(listed.stdout.splitlines())


@pytest.fixture
def db(database_url: str) -> str:
    result = tunix_rt(database_url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return database_url


def test_import_is_all_or_nothing_and_names_every_bad_line(db: str, tmp_path: Path) -> None:
    lines: list[object] = [make_trace(n) for n in range(5)]
    lines[1] = make_trace(1, prompt="")
    lines[3] = {"trace_version": "1.0"}
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    with path.open("ab") as handle:
        handle.write(b"{not json\n")

    result = tunix_rt(db, "traces", "import", str(path))
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert f"{path}:2: prompt: String should have at least 1 character\n" in stderr
    assert (
        f"{path}:4: prompt: Field required; steps: Field required; final_answer: Field required\n"
        in stderr
    )
    assert f"{path}:6: Invalid JSON" in stderr
    assert "nothing imported: 3 bad lines" in stderr
    assert count(db) == 0


def test_skip_invalid_keeps_the_good_lines(db: str, tmp_path: Path) -> None:
    lines: list[object] = [make_trace(n) for n in range(4)]
    lines[2] = make_trace(2, steps=0)
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    result = tunix_rt(db, "traces", "import", str(path), "--skip-invalid")
    assert result.returncode == 1  # something was rejected
    assert f"{path}:3: steps: List should have at least 1 item" in result.stderr.decode()
    assert "imported 3 traces" in result.stderr.decode()
    assert count(db) == 3


def test_stdin_import_blank_lines_and_missing_file(db: str, tmp_path: Path) -> None:
    data = orjson.dumps(make_trace(1)) + b"\n\n" + orjson.dumps(make_trace(2)) + b"\n"
    result = tunix_rt(db, "traces", "import", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    assert "imported 2 traces" in result.stderr.decode()
    missing = tunix_rt(db, "traces", "import", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1
    assert "No such file or directory" in missing.stderr.decode()
    assert "Traceback" not in missing.stderr.decode()


def test_export_round_trips_byte_for_byte(db: str, tmp_path: Path, sqlite_url: str) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl", [make_trace(n, source=f"s{n % 2}") for n in range(30)]
    )
    assert tunix_rt(db, "traces", "import", str(path)).returncode == 0
    first = tmp_path / "first.jsonl"
    assert tunix_rt(db, "traces", "export", "-o", str(first)).returncode == 0
    exported = [orjson.loads(line) for line in first.read_bytes().splitlines()]
    assert [line["prompt"] for line in exported] == [f"What is {n} + {n}?" for n in range(30)]
    assert {k for k in exported[0]} == {
        "id",
        "created_at",
        "trace_version",
        "prompt",
        "steps",
        "final_answer",
        "meta",
    }

    # Into a second, empty database (SQLite) and out again: the same bytes, ids kept.
    other = sqlite_url.replace("tunix_rt.db", "copy.db")
    assert tunix_rt(other, "db", "upgrade").returncode == 0
    assert tunix_rt(other, "traces", "import", str(first)).returncode == 0
    second = tunix_rt(other, "traces", "export", "-o", "-")
    assert second.stdout == first.read_bytes()

    # Importing the same ids again is refused line by line.
    again = tunix_rt(other, "traces", "import", str(first))
    assert again.returncode == 1
    assert f"{first}:1: id {exported[0]['id']} is already stored" in again.stderr.decode()

    only_s1 = tunix_rt(db, "traces", "export", "--source", "s1", "-o", "-")
    assert len(only_s1.stdout.splitlines()) == 15


def test_list_and_show(db: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [make_trace(n) for n in range(3)])
    assert tunix_rt(db, "traces", "import", str(path)).returncode == 0
    listed = tunix_rt(db, "traces", "list", "--limit", "2")
    assert listed.returncode == 0
    rows = listed.stdout.decode().splitlines()
    assert rows[0] == "id\tcreated_at\ttrace_version"
    assert len(rows) == 3
    assert "next page: --cursor " in listed.stderr.decode()
    cursor = listed.stderr.decode().split("--cursor ")[1].strip()
    rest = tunix_rt(db, "traces", "list", "--cursor", cursor).stdout.decode().splitlines()
    assert len(rest) == 2

    newest = rows[1].split("\t")[0]
    shown = tunix_rt(db, "traces", "show", newest)
    assert shown.returncode == 0
    assert orjson.loads(shown.stdout)["payload"] == make_trace(2)
    unknown = tunix_rt(db, "traces", "show", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 1
    assert (
        unknown.stderr.decode().strip()
        == "error: trace 00000000-0000-0000-0000-000000000000 not found"
    )
    malformed = tunix_rt(db, "traces", "show", "xyz")
    assert malformed.returncode == 1
    assert "is not a trace id" in malformed.stderr.decode()


def test_unreachable_database_is_one_line_not_a_traceback() -> None:
    result = tunix_rt("postgresql+asyncpg://nobody@127.0.0.1:1/none", "traces", "list")
    assert result.returncode == 1
    stderr = result.stderr.decode()
    assert stderr.startswith("error: ")
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_fresh_database_needs_no_manual_migration(sqlite_url: str) -> None:
    result = tunix_rt(sqlite_url, "traces", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "id\tcreated_at\ttrace_version\n"
