"""`tunix-rt generate ...` and `tunix-rt evalsets ...`, run as real processes."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import orjson
import pytest

from helpers.server import cli_env, run_cli
from tunix_rt.evals.evalsets import EVAL_SETS
from tunix_rt.generators import GENERATORS, generate
from tunix_rt.generators.service import encode_trace_line


def tunix_rt(database_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(cli_env(database_url, COLUMNS="200"), *args)


def exported(database_url: str) -> list[dict[str, object]]:
    listed = tunix_rt(database_url, "traces", "export", "-o", "-")
    assert listed.returncode == 0, listed.stderr
    return [orjson.loads(line) for line in listed.stdout.splitlines()]


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 1, result
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert stderr.startswith("error: ")
    assert len(stderr.strip().splitlines()) == 1, stderr
    return stderr.strip()


@pytest.fixture
def db(database_url: str) -> str:
    result = tunix_rt(database_url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return database_url


@pytest.mark.parametrize(
    ("args", "name", "source", "params"),
    [
        (["high-card-duel"], "high-card-duel", "ungar", {}),
        (
            ["arithmetic", "--digits", "4", "--operation", "mul"],
            "arithmetic",
            "arithmetic",
            {"digits": 4, "operation": "mul"},
        ),
        (
            ["arithmetic", "--digits", "2", "--operation", "sub", "--difficulty", "hard"],
            "arithmetic",
            "arithmetic",
            {"digits": 2, "operation": "sub", "difficulty": "hard"},
        ),
        (
            ["comparison-chain", "--people", "6", "--question", "least"],
            "comparison-chain",
            "comparison_chain",
            {"people": 6, "question": "least"},
        ),
    ],
)
def test_generate_stores_the_traces(
    db: str, args: list[str], name: str, source: str, params: dict[str, object]
) -> None:
    result = tunix_rt(db, "generate", *args, "--count", "30", "--seed", "11")
    assert result.returncode == 0, result.stderr
    assert f"stored 30 {name} traces (seed 11)" in result.stderr.decode()
    assert result.stdout == b""
    lines = exported(db)
    assert len(lines) == 30
    expected = [t.model_dump(mode="json") for t in generate(name, 30, seed=11, **params)]
    stored = [{k: line[k] for k in expected[0]} for line in lines]
    assert stored == expected  # in generation order
    assert {line["meta"]["source"] for line in lines} == {source}  # type: ignore[index]


def test_output_file_is_importable_and_nothing_is_stored(db: str, tmp_path: Path) -> None:
    out = tmp_path / "hcd.jsonl"
    result = tunix_rt(db, "generate", "high-card-duel", "-n", "25", "--seed", "4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote 25 high-card-duel traces (seed 4) to {out}; nothing stored" in (
        result.stderr.decode()
    )
    data = out.read_bytes()
    assert data == b"".join(encode_trace_line(t) for t in generate("high-card-duel", 25, seed=4))
    first = orjson.loads(data.splitlines()[0])
    assert list(first) == sorted(first)  # keys sorted
    assert exported(db) == []

    imported = tunix_rt(db, "traces", "import", str(out))
    assert imported.returncode == 0, imported.stderr
    assert "imported 25 traces" in imported.stderr.decode()
    assert len(exported(db)) == 25


def test_the_same_seed_writes_the_same_bytes(sqlite_url: str, tmp_path: Path) -> None:
    def write(name: str, *args: str) -> bytes:
        path = tmp_path / name
        result = tunix_rt(sqlite_url, "generate", *args, "-o", str(path))
        assert result.returncode == 0, result.stderr
        return path.read_bytes()

    args = ("arithmetic", "--count", "300", "--seed", "21", "--digits", "5")
    first, second = write("a.jsonl", *args), write("b.jsonl", *args)
    assert first == second
    assert len(first.splitlines()) == 300
    assert write("c.jsonl", "arithmetic", "--count", "300", "--seed", "22") != first
    stdout = tunix_rt(sqlite_url, "generate", *args, "-o", "-")
    assert stdout.returncode == 0
    assert stdout.stdout == first
    assert not Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")).exists()  # no database


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["arithmetic", "--digits", "11"], "error: digits must be between 1 and 10, got 11"),
        (["arithmetic", "--digits", "0", "-o", "-"], "digits must be between 1 and 10, got 0"),
        (["arithmetic", "--operation", "div"], "operation must be one of add, sub, mul, mixed"),
        (
            ["arithmetic", "--operation", "mul", "--difficulty", "hard"],
            "error: difficulty hard is for addition and subtraction, not operation mul",
        ),
        (["comparison-chain", "--people", "9"], "people must be between 3 and 8, got 9"),
        (["comparison-chain", "--question", "tallest"], "question must be one of"),
        (["high-card-duel", "--seed", "999999"], "reserved for eval sets"),
        (["high-card-duel", "--count", "-1"], "count must be >= 0"),
    ],
)
def test_bad_params_are_one_line_errors(
    sqlite_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    if "--count" not in args:
        args = [*args, "--count", "10"]
    result = tunix_rt(sqlite_url, "generate", *args)
    assert message in one_line_error(result)
    assert result.stdout == b""
    assert not Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")).exists()


def test_a_value_that_is_no_number_is_a_usage_error_naming_the_option(sqlite_url: str) -> None:
    result = tunix_rt(sqlite_url, "generate", "arithmetic", "--count", "3", "--digits", "abc")
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert "Invalid value for '--digits'" in stderr
    assert result.stdout == b""
    assert not Path(sqlite_url.removeprefix("sqlite+aiosqlite:///")).exists()


def test_every_generator_is_a_command_with_its_own_params() -> None:
    import typer
    from typer.core import TyperGroup, TyperOption

    from tunix_rt.cli.generate import generate_app

    group = typer.main.get_command(generate_app)
    assert isinstance(group, TyperGroup)
    assert list(group.commands) == list(GENERATORS)
    for name, spec in GENERATORS.items():
        options = {param.name: param for param in group.commands[name].params}
        assert list(options) == ["count", "seed", *(p.name for p in spec.params), "output"]
        for param in spec.params:
            option = options[param.name]
            assert isinstance(option, TyperOption)
            assert option.opts == [f"--{param.name}"]
            assert option.default == param.default
            assert option.help is not None and option.help.startswith(param.description)


def test_unwritable_output_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    result = tunix_rt(sqlite_url, "generate", "high-card-duel", "-n", "3", "-o", str(target))
    assert "No such file or directory" in one_line_error(result)


def test_evalsets_list(sqlite_url: str) -> None:
    result = tunix_rt(sqlite_url, "evalsets", "list")
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.decode().splitlines()]
    assert rows[0] == ["name", "version", "items", "description"]
    assert rows[1:] == [
        [spec.name, spec.version, str(spec.item_count), spec.description]
        for spec in EVAL_SETS.values()
    ]


@pytest.mark.parametrize("name", sorted(EVAL_SETS))
def test_evalsets_export_writes_the_pinned_items(db: str, tmp_path: Path, name: str) -> None:
    spec = EVAL_SETS[name]
    out = tmp_path / f"{name}.jsonl"
    result = tunix_rt(db, "evalsets", "export", name, "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert len(data.splitlines()) == spec.item_count
    assert hashlib.sha256(data).hexdigest() == spec.sha256
    assert f"exported {spec.item_count:,} items of {name}" in result.stderr.decode()
    first = orjson.loads(data.splitlines()[0])
    assert first["meta"]["eval_set"] == name
    assert first["meta"]["eval_index"] == 0

    stdout = tunix_rt(db, "evalsets", "export", name, "-o", "-")
    assert stdout.stdout == data
    imported = tunix_rt(db, "traces", "import", str(out))
    assert imported.returncode == 0, imported.stderr
    assert len(exported(db)) == spec.item_count


def test_evalsets_export_unknown_name(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = tunix_rt(sqlite_url, "evalsets", "export", "arithmetic-v9", "-o", str(out))
    message = one_line_error(result)
    assert "unknown eval set 'arithmetic-v9'" in message
    assert "arithmetic-v1" in message
    assert not out.exists()
