"""`tunix-rt traces ...`: import, list, show and export traces."""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunix_rt.cli.common import (
    atomic_output,
    err,
    open_input,
    parse_id,
    progress_bar,
    run,
    run_read,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

traces_app = typer.Typer(help="Import, browse and export traces.", no_args_is_help=True)


@traces_app.command("import")
def traces_import(
    file: Annotated[str, typer.Argument(help="JSONL file, one trace per line; - reads stdin.")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Store the good lines even if some are bad.")
    ] = False,
) -> None:
    """Import traces, all or nothing (exit 1 and nothing stored if any line is bad)."""
    from tunix_rt.traces.importer import import_lines

    # Everything imported so far lives as long as the process: keep the collector off it.
    gc.freeze()
    name = "<stdin>" if file == "-" else file
    with open_input(file) as (handle, size), progress_bar(err, size) as progress:
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


@traces_app.command("list")
def traces_list(
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    source: Annotated[str | None, typer.Option(help="meta.source equals")] = None,
    q: Annotated[str | None, typer.Option(help="prompt contains (case-insensitive)")] = None,
) -> None:
    """List traces, newest first."""
    from tunix_rt.traces.store import TraceFilters, list_traces

    async def query(conn: AsyncConnection) -> Any:
        return await list_traces(
            conn,
            limit=limit,
            cursor=cursor or None,
            filters=TraceFilters(source=source, prompt_contains=q),
        )

    page = run_read(query)
    lines = ["id\tcreated_at\ttrace_version"]
    lines += [f"{i.id}\t{i.created_at.isoformat()}\t{i.trace_version}" for i in page.items]
    sys.stdout.write("\n".join(lines) + "\n")
    if page.next_cursor:
        err.print(f"next page: --cursor {page.next_cursor}", highlight=False)


@traces_app.command("show")
def traces_show(trace_id: Annotated[str, typer.Argument(help="Trace id (UUID)")]) -> None:
    """Print one trace as JSON."""
    from tunix_rt.traces.store import get_trace

    parsed = parse_id(trace_id, "trace")
    record = run_read(lambda conn: get_trace(conn, parsed))
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
        with atomic_output(output) as out, progress_bar(err, None) as progress:
            task = progress.add_task("exporting", total=total)
            return await export_traces(
                engine,
                out,
                filters=filters,
                on_progress=lambda n: progress.update(task, completed=n),
            )

    written = run(main)
    err.print(f"exported {written:,} traces", highlight=False)
