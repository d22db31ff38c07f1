"""`tunix-rt serve`, `tunix-rt db upgrade`, `tunix-rt db backup` and `tunix-rt demo`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tunix_rt.cli.common import domain_errors, err, run, say

#: When the server is asked to stop, how long requests still open (a followed log streams until
#: its run ends) may go on before they are cancelled and the server stops its runs.
OPEN_REQUESTS_GRACE_SECONDS = 3

app = typer.Typer()
db_app = typer.Typer(help="Database schema and backups.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Serve the API (interactive docs at /docs)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from tunix_rt.api.app import create_app
    from tunix_rt.db.migrate import upgrade
    from tunix_rt.settings import get_settings

    settings = get_settings()
    if migrate:
        run(upgrade, migrate=False)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        log_config=log_config(LOGGING_CONFIG),
        access_log=False,
        timeout_graceful_shutdown=OPEN_REQUESTS_GRACE_SECONDS,
    )


def log_config(uvicorn_config: dict[str, Any]) -> dict[str, Any]:
    """uvicorn's logging, with the package's own loggers (the job executor's) on its stderr."""
    loggers = {
        **uvicorn_config["loggers"],
        "tunix_rt": {"handlers": ["default"], "level": "INFO", "propagate": False},
    }
    return {**uvicorn_config, "loggers": loggers}


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from tunix_rt.db.migrate import upgrade

    run(upgrade, migrate=False)
    err.print("database is up to date")


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database to FILE, consistently, while servers keep writing to it."""
    import json

    from tunix_rt.db.backup import backup_database
    from tunix_rt.settings import get_settings

    with domain_errors():
        done = backup_database(get_settings().database_url, file, force=force)
    say(
        f"backed up {done.source} to {done.path}: {done.size_bytes:,} bytes; "
        f"traces: {done.traces:,}, datasets: {done.datasets:,}, runs: {done.runs:,}"
    )
    summary = {
        "path": str(done.path),
        "size_bytes": done.size_bytes,
        "traces": done.traces,
        "datasets": done.datasets,
        "runs": done.runs,
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")


@app.command()
def demo() -> None:
    """Load the demo traces (idempotent: they have fixed ids)."""
    from tunix_rt.demo import load_demo_traces

    added = run(load_demo_traces)
    err.print(f"demo traces: {added} added")
