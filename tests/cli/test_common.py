"""How the CLI reports a domain error: one `error:` line, exit 1, an invalid field named by the
option that set it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helpers.factories import make_trace, write_jsonl
from helpers.server import cli_env, run_cli


def tunix_rt(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(database_url, COLUMNS="200", TUNIX_RT_DATA_DIR=str(tmp_path / "data"))
    return run_cli(env, *args, text=True)


def test_an_invalid_field_is_named_by_its_option(database_url: str, tmp_path: Path) -> None:
    cursor = tunix_rt(database_url, tmp_path, "traces", "list", "--cursor", "zzz")
    assert (cursor.returncode, cursor.stderr) == (
        1,
        "error: --cursor: cursor is not one that a trace list returned\n",
    )

    source = tmp_path / "in.jsonl"
    write_jsonl(source, [make_trace(n) for n in range(4)])
    assert tunix_rt(database_url, tmp_path, "traces", "import", str(source)).returncode == 0
    splits = ("--split", "train=0.5", "--split", "val=0.5", "--seed", "1")
    built = tunix_rt(database_url, tmp_path, "datasets", "build", "d", "1", *splits)
    assert built.returncode == 0, built.stderr
    split = tunix_rt(database_url, tmp_path, "export", "d-1", "-o", "-", "--split", "nope")
    assert (split.returncode, split.stdout, split.stderr) == (
        1,
        "",
        "error: --split: dataset d-1 has no split 'nope' (splits: train, val)\n",
    )

    # A field no option sets (the build's filters, made of several options) stays unnamed.
    empty = tunix_rt(database_url, tmp_path, "datasets", "build", "x", "1", "--source", "nope")
    assert (empty.returncode, empty.stderr) == (1, "error: no trace matches the filters\n")
