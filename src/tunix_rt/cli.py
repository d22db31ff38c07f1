"""The `tunix-rt` command line: thin commands over the same services the API uses."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.db.engine import create_engine
from tunix_rt.db.migrate import ensure_schema, upgrade
from tunix_rt.errors import TunixRTError
from tunix_rt.settings import get_settings

app = typer.Typer(
    name="tunix-rt",
    help="Reasoning traces → datasets → Tunix training → evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
traces_app = typer.Typer(help="Import, browse and export traces.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(traces_app, name="traces")

err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def run(make: Callable[[AsyncEngine], Coroutine[Any, Any, T]], *, migrate: bool = True) -> T:
    """Run one async service call on a fresh engine (schema brought up to date first).

    Domain, database and file errors become one line on stderr and exit code 1.
    """

    async def main() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            if migrate:
                await ensure_schema(engine)
            return await make(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except TunixRTError as exc:
        raise fail(str(exc)) from None
    except (OSError, SQLAlchemyError) as exc:
        if os.environ.get("TUNIX_RT_DEBUG"):
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(f"{message} (TUNIX_RT_DEBUG=1 shows the traceback)") from None


# --- serve / db ----------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8000]")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
) -> None:
    """Serve the API (interactive docs at /docs)."""
    import uvicorn

    from tunix_rt.api.app import create_app

    settings = get_settings()
    if migrate:
        run(upgrade, migrate=False)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    run(upgrade, migrate=False)
    err.print("database is up to date")


@app.command()
def demo() -> None:
    """Load the demo traces (idempotent: they have fixed ids)."""
    from tunix_rt.demo import load_demo_traces

    added = run(load_demo_traces)
    err.print(f"demo traces: {added} added")


# --- traces --------------------------------------------------------------------------------


@contextmanager
def _open_input(path: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror}") from None
    with handle:
        yield handle, os.fstat(handle.fileno()).st_size


@traces_app.command("import")
def traces_import(
    file: Annotated[str, typer.Argument(help="JSONL file, one trace per line; - reads stdin.")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the good lines even if some are bad.")
    ] = False,
) -> None:
    """Import traces, all or nothing (exit 1 and nothing stored if any line is bad)."""
    from tunix_rt.traces.importer import import_lines

    name = "<stdin>" if file == "-" else file
    with _open_input(file) as (handle, size), _progress(err, size) as progress:
        task = progress.add_task("importing", total=size)

        def on_progress(lines: int, nbytes: int) -> None:
            progress.update(task, completed=nbytes, description=f"{lines:,} lines")

        report = run(
            lambda engine: import_lines(
                engine, handle, skip_invalid=skip_invalid, on_progress=on_progress
            )
        )
    for error in report.errors:
        err.print(
            f"{name}:{error.line}: {error.reason}", highlight=False, markup=False, soft_wrap=True
        )
    if report.committed:
        err.print(f"imported {report.stored:,} traces", highlight=False)
    else:
        err.print(f"nothing imported: {len(report.errors):,} bad lines", highlight=False)
    if report.errors:
        raise typer.Exit(1)


@contextmanager
def _progress(console: Console, total_bytes: int | None) -> Iterator[Progress]:
    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if total_bytes is not None:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


@traces_app.command("list")
def traces_list(
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    source: Annotated[str | None, typer.Option(help="meta.source equals")] = None,
    q: Annotated[str | None, typer.Option(help="prompt contains (case-insensitive)")] = None,
) -> None:
    """List traces, newest first."""
    from tunix_rt.traces.store import Cursor, TraceFilters, list_traces

    async def main(engine: AsyncEngine) -> Any:
        async with engine.connect() as conn:
            return await list_traces(
                conn,
                limit=limit,
                cursor=Cursor.decode(cursor) if cursor else None,
                filters=TraceFilters(source=source, q=q),
            )

    page = run(main)
    lines = ["id\tcreated_at\ttrace_version"]
    lines += [f"{i.id}\t{i.created_at.isoformat()}\t{i.trace_version}" for i in page.items]
    sys.stdout.write("\n".join(lines) + "\n")
    if page.next_cursor:
        err.print(f"next page: --cursor {page.next_cursor}", highlight=False)


@traces_app.command("show")
def traces_show(trace_id: Annotated[str, typer.Argument(help="Trace id (UUID)")]) -> None:
    """Print one trace as JSON."""
    from tunix_rt.traces.store import get_trace

    try:
        parsed = uuid.UUID(trace_id)
    except ValueError:
        raise fail(f"{trace_id!r} is not a trace id (UUID)") from None

    async def main(engine: AsyncEngine) -> Any:
        async with engine.connect() as conn:
            return await get_trace(conn, parsed)

    record = run(main)
    sys.stdout.write(record.model_dump_json(indent=2) + "\n")


@traces_app.command("export")
def traces_export(
    output: Annotated[str, typer.Option("-o", "--output", help="JSONL file; - for stdout.")],
    source: Annotated[str | None, typer.Option(help="meta.source equals")] = None,
) -> None:
    """Export traces, oldest first, as JSONL that `traces import` reads back (ids kept)."""
    from tunix_rt.traces.export import count_matching, export_traces
    from tunix_rt.traces.store import TraceFilters

    filters = TraceFilters(source=source)

    async def main(engine: AsyncEngine) -> int:
        total = await count_matching(engine, filters)
        with _atomic_output(output) as out, _progress(err, None) as progress:
            task = progress.add_task("exporting", total=total)
            return await export_traces(
                engine,
                out,
                filters=filters,
                on_progress=lambda n: progress.update(task, completed=n),
            )

    written = run(main)
    err.print(f"exported {written:,} traces", highlight=False)


@contextmanager
def _atomic_output(path: str) -> Iterator[IO[bytes]]:
    """stdout for `-`; otherwise a temporary file renamed over `path` only when complete."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main() -> None:
    app()
