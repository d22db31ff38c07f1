"""The `tunix-rt` command line: thin commands over the same services the API uses."""

from __future__ import annotations

import typer

from tunix_rt.cli import server, traces

app = typer.Typer(
    name="tunix-rt",
    help="Reasoning traces → datasets → Tunix training → evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.registered_commands += server.app.registered_commands
app.add_typer(server.db_app, name="db")
app.add_typer(traces.traces_app, name="traces")


def main() -> None:
    app()
