"""The `tunix-rt` command line: thin commands over the same services the API uses."""

from __future__ import annotations

import typer

from tunix_rt.cli import datasets, evals, evalsets, generate, quickstart, runs, server, traces

app = typer.Typer(
    name="tunix-rt",
    help="Reasoning traces → datasets → Tunix training → evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.registered_commands += server.app.registered_commands
app.add_typer(server.db_app, name="db")
app.add_typer(traces.traces_app, name="traces")
app.add_typer(datasets.datasets_app, name="datasets")
app.registered_commands += datasets.app.registered_commands
app.registered_commands += runs.app.registered_commands
app.add_typer(runs.runs_app, name="runs")
app.add_typer(generate.generate_app, name="generate")
app.add_typer(evalsets.evalsets_app, name="evalsets")
app.registered_commands += evals.app.registered_commands
app.add_typer(evals.evals_app, name="evals")
app.registered_commands += quickstart.app.registered_commands


def main() -> None:
    app()
