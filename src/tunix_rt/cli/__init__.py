"""The `tunix-rt` command line: thin commands over the same services the API uses.

`COMMANDS` names, in `tunix-rt --help` order, each top-level command or group, the module that
defines it and the summary that help lists for it. A module is imported only when one of its
commands runs or shows its own help, so `tunix-rt --help` imports no command module and
`tunix-rt datasets list` imports only `cli/datasets.py` (and, inside the command, the
services it calls). A test checks each summary against the command's own help.
"""

from __future__ import annotations

import gc
import importlib
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer._click import Command, Context, HelpFormatter  # Typer's own copy of Click
from typer.core import TyperCommand, TyperGroup
from typer.models import TyperInfo

__all__ = ["COMMANDS", "app", "main"]


@dataclass(frozen=True)
class Entry:
    """A top-level command (`group=False`: one command of the Typer app `attribute`) or a group
    (the Typer app `attribute` itself), defined in `tunix_rt.cli.<module>`."""

    module: str
    attribute: str
    group: bool
    summary: str


COMMANDS: dict[str, Entry] = {
    "serve": Entry("server", "app", False, "Serve the API (interactive docs at /docs)."),
    "demo": Entry(
        "server", "app", False, "Load the demo traces (idempotent: they have fixed ids)."
    ),
    "export": Entry(
        "export",
        "app",
        False,
        "Export a dataset in a training format, in manifest order (the same bytes every time).",
    ),
    "manifest": Entry(
        "manifest",
        "app",
        False,
        "Write a Tunix run manifest (YAML) for a dataset, with defaults that train its model.",
    ),
    "train": Entry(
        "runs",
        "app",
        False,
        "Train in the foreground, recorded in the run registry. Ctrl-C cancels cleanly.",
    ),
    "eval": Entry(
        "evals",
        "app",
        False,
        "Evaluate a run in the foreground and print its scorecard. Ctrl-C cancels.",
    ),
    "quickstart": Entry(
        "quickstart",
        "app",
        False,
        "`arithmetic`: generate arithmetic traces, build a dataset, train the tiny model on\n"
        "this machine, and evaluate it and its untrained start on held-out two- and\n"
        "three-digit additions and subtractions (arithmetic-add-sub-v1). `grpo`: train that\n"
        "run further with GRPO on fresh problems, rewarded by their known answers, and\n"
        "evaluate it against the run it started from on arithmetic-add-sub-2k-v1. Prints the\n"
        "scorecard. Ctrl-C cancels.",
    ),
    "db": Entry("server", "db_app", True, "Database schema and backups."),
    "traces": Entry("traces", "traces_app", True, "Import, browse and export traces."),
    "datasets": Entry("datasets", "datasets_app", True, "Build, list and show datasets."),
    "runs": Entry("runs", "runs_app", True, "List, show, follow, cancel and resume training runs."),
    "generate": Entry(
        "generate",
        "generate_app",
        True,
        "Generate traces with a built-in generator and store them (or write them with -o). "
        "The same --seed and params always give the same traces.",
    ),
    "evalsets": Entry("evalsets", "evalsets_app", True, "Built-in eval sets (fixed, versioned)."),
    "evals": Entry("evals", "evals_app", True, "List, show and compare evaluations."),
}


class LazyGroup(TyperGroup):
    """The root group: lists `COMMANDS` by their summaries and imports a command's module only
    to run it (or to show its own help or complete it)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = {
            name: TyperCommand(name, help=entry.summary) for name, entry in COMMANDS.items()
        }
        self._loaded: dict[str, Command] = {}
        self._listing = False

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self._listing = True  # the listing needs only each command's summary
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if self._listing or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load(cmd_name)
        return self._loaded[cmd_name]


def load(name: str) -> Command:
    """The command or group `name` as Typer builds it, from its module."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"tunix_rt.cli.{entry.module}")
    sub_app: typer.Typer = getattr(module, entry.attribute)
    settings: dict[str, Any] = {
        "pretty_exceptions_short": app.pretty_exceptions_short,
        "rich_markup_mode": app.rich_markup_mode,
    }
    if entry.group:
        info = typer.main.solve_typer_info_defaults(TyperInfo(sub_app, name=name))
        return typer.main.get_group_from_info(
            info, suggest_commands=app.suggest_commands, **settings
        )
    for command_info in sub_app.registered_commands:
        command = typer.main.get_command_from_info(command_info, **settings)
        if command.name == name:
            return command
    raise LookupError(f"tunix_rt.cli.{entry.module}.{entry.attribute} has no command {name!r}")


app = typer.Typer(
    name="tunix-rt",
    help="Reasoning traces → datasets → Tunix training → evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """The commands are `COMMANDS`, loaded by `LazyGroup`."""


def main() -> None:
    try:
        app()
    except Exception as exc:
        # A domain error no command turned into its line (a bad TUNIX_RT_* value, met wherever
        # a command first reads the settings): the same one line and exit 1. Only a process
        # that imported the error module can have raised one, so `--help` stays light.
        errors = sys.modules.get("tunix_rt.errors")
        if errors is None or not isinstance(exc, errors.TunixRTError):
            raise
        from tunix_rt.cli.common import fail

        raise SystemExit(fail(str(exc)).exit_code) from None
    finally:
        # What is still alive lives until the process ends: spare the interpreter's last
        # collection the walk over it (over all of SQLAlchemy and pydantic, longer than a quick
        # command takes).
        gc.freeze()
