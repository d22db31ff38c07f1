"""The command line starts quickly: a command imports only what it uses.

`tunix-rt --help` imports no command module; a command that touches no database imports
neither SQLAlchemy nor FastAPI; one that reads the database imports no FastAPI.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import typer

from helpers.server import cli_env
from tunix_rt.cli import COMMANDS, app, load

# Runs the command line in-process, then writes the names of the imported modules to argv[1].
PROBE = """
import sys
from pathlib import Path

import orjson

from tunix_rt.cli import main

out, sys.argv = sys.argv[1], ["tunix-rt", *sys.argv[2:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
Path(out).write_bytes(orjson.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def modules_of(tmp_path: Path, *args: str) -> set[str]:
    """The modules imported by `tunix-rt ARGS` (which must exit 0)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'tunix_rt.db'}"
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        env=cli_env(url, COLUMNS="200"),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    probe = orjson.loads(out.read_bytes())
    assert probe["code"] in (0, None), done.stderr
    return set(probe["modules"])


def packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--help"], id="help"),
        pytest.param(["evalsets", "list"], id="evalsets-list"),
        pytest.param(["generate", "arithmetic", "-n", "3", "-o", "-"], id="generate-to-stdout"),
    ],
)
def test_a_command_without_a_database_imports_no_sqlalchemy_and_no_api(
    tmp_path: Path, args: list[str]
) -> None:
    imported = packages(modules_of(tmp_path, *args))
    assert "sqlalchemy" not in imported
    assert "fastapi" not in imported
    assert "pydantic_settings" not in imported


def test_help_imports_no_command_module(tmp_path: Path) -> None:
    imported = modules_of(tmp_path, "--help")
    assert sorted(name for name in imported if name.startswith("tunix_rt.")) == ["tunix_rt.cli"]


def test_reading_the_database_imports_no_api(tmp_path: Path) -> None:
    imported = modules_of(tmp_path, "datasets", "list")
    assert "sqlalchemy" in packages(imported)
    assert "fastapi" not in packages(imported)
    assert "tunix_rt.api" not in imported
    assert not {"tunix_rt.cli.evals", "tunix_rt.cli.runs", "tunix_rt.cli.generate"} & imported


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_summary_is_the_commands_own_help(name: str) -> None:
    """`tunix-rt --help` lists COMMANDS' summaries without importing the commands; each one is
    the first paragraph of the command's help, which `tunix-rt NAME --help` shows."""
    command = load(name)
    assert command.name == name
    assert command.short_help is None
    assert not command.hidden and not command.deprecated
    assert not getattr(command, "rich_help_panel", None)  # the default panel
    first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0].strip()
    assert COMMANDS[name].summary == first_paragraph


def test_the_listing_is_every_command_in_order() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    with typer.Context(root) as ctx:
        assert root.list_commands(ctx) == list(COMMANDS)
        assert [command.name for command in map(load, COMMANDS)] == list(COMMANDS)
