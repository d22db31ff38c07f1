"""`tunix-rt export`: a dataset in a training format, streamed to a file or stdout."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from tunix_rt.cli.common import atomic_output, err, progress_bar, run
from tunix_rt.formats import ExportFormat

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

app = typer.Typer()


@app.command("export")
def export(
    key: Annotated[str, typer.Argument(help="NAME-VERSION")],
    output: Annotated[str, typer.Option("-o", "--output", help="JSONL file; - for stdout")],
    format: Annotated[ExportFormat, typer.Option(help="Export format")] = ExportFormat.TRACE,
    split: Annotated[str | None, typer.Option(help="Only this split")] = None,
    system: Annotated[str | None, typer.Option(help="System instruction to fold in")] = None,
) -> None:
    """Export a dataset in a training format, in manifest order (the same bytes every time)."""
    from tunix_rt.datasets import service
    from tunix_rt.datasets.export_cache import ExportCache
    from tunix_rt.settings import get_settings

    async def main(engine: AsyncEngine) -> service.ExportWritten:
        cache = ExportCache.from_settings(get_settings())
        prepared = await service.prepare_export(engine, cache, key, format, split, system)
        with atomic_output(output) as out, progress_bar(err, None) as progress:
            verb = "copying" if prepared.cached else "exporting"
            task = progress.add_task(f"{verb} {format}", total=prepared.total)
            return await prepared.write_to(out, lambda done: progress.update(task, completed=done))

    started = time.perf_counter()
    written, cached = run(main)
    seconds = time.perf_counter() - started
    err.print(
        f"exported {written:,} records in {seconds:.2f} s ({written / max(seconds, 1e-9):,.0f}/s)"
        + (", copied from the export cache" if cached else ""),
        highlight=False,
    )
