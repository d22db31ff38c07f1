"""Deleting a dataset, and checking, opening and writing its exports (from the export cache or
the database)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import delete as sql_delete

from tunix_rt.datasets.pairs import paired_evaluation, require_paired_evaluation
from tunix_rt.datasets.paths import manifest_path
from tunix_rt.datasets.store import dataset_record
from tunix_rt.db.models import dataset_items_table as I
from tunix_rt.db.models import datasets_table as D
from tunix_rt.errors import InvalidInputError, NotFoundError
from tunix_rt.formats import ExportFormat, renderer_for

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from tunix_rt.datasets.export_cache import ExportCache

# Building and exporting are imported by the functions that do them, so a command that lists
# or shows datasets does not load them.


async def delete(engine: AsyncEngine, data_dir: Path, key: str) -> None:
    """Remove a dataset (its items go with it; traces stay) and its manifest file."""
    async with engine.begin() as conn:
        result = await conn.execute(sql_delete(D).where(D.c.key == key))
        if result.rowcount == 0:
            raise NotFoundError(f"dataset {key} not found")
        await conn.execute(sql_delete(I).where(I.c.dataset_key == key))
    path = manifest_path(data_dir, key)
    path.unlink(missing_ok=True)
    shutil.rmtree(path.parent / "exports", ignore_errors=True)  # its cached exports
    if path.parent.exists() and not any(path.parent.iterdir()):
        path.parent.rmdir()


class ExportCheck(NamedTuple):
    """A valid export request: its ETag and how many records it holds."""

    etag: str
    records: int


async def check_export(
    engine: AsyncEngine, key: str, fmt: str, split: str | None, system: str | None
) -> ExportCheck:
    """Validate an export request before streaming starts (one read of the dataset's row)."""
    from tunix_rt.datasets.export import export_etag

    renderer_for(fmt)  # unknown format -> UnknownFormatError (422)
    evaluation = None
    async with engine.connect() as conn:
        record = await dataset_record(conn, key)
        if fmt == ExportFormat.PREFERENCE:
            evaluation = paired_evaluation(record["manifest"])
            if evaluation is not None:
                await require_paired_evaluation(conn, key, evaluation)
    counts = _record_counts(record)
    if split is not None and split not in counts:
        known = sorted(record["manifest"].get("splits") or {})
        raise InvalidInputError(
            f"dataset {key} has no split {split!r} (splits: {', '.join(known) or 'none'})",
            loc=("split",),
        )
    etag = export_etag(
        record["export_sha256"],
        str(record["build_id"]),
        fmt,
        split,
        system,
        None if evaluation is None else str(evaluation),
    )
    return ExportCheck(etag, counts[split or ""])


class ExportStream(NamedTuple):
    """An export's bytes as they arrive (`chunks`, whatever their source), and the export
    cache's entry, open, when it holds them: a caller writing to a file may copy that inside the
    kernel (`export_cache.copy_entry`) instead of reading `chunks`."""

    chunks: AsyncGenerator[bytes, None]
    cached: IO[bytes] | None

    @property
    def cached_size(self) -> int | None:
        return None if self.cached is None else os.fstat(self.cached.fileno()).st_size


def open_export(
    engine: AsyncEngine,
    cache: ExportCache,
    key: str,
    fmt: str,
    split: str | None,
    system: str | None,
    etag: str,
) -> ExportStream:
    """The bytes of an export already checked by `check_export` (which gave `etag`): the
    export cache's entry when it holds one, else rendered from the database while the entry
    is written."""
    from tunix_rt.datasets.export import export_lines
    from tunix_rt.datasets.export_cache import entry_chunks

    handle = cache.open(key, etag)
    if handle is not None:
        return ExportStream(entry_chunks(handle), handle)

    async def rendered() -> AsyncGenerator[bytes, None]:
        with cache.writer(key, etag) as entry:
            chunks = export_lines(engine, key, fmt, split=split, system=system)
            async with aclosing(chunks):
                async for chunk in chunks:
                    if entry is not None:
                        entry.write(chunk)
                    yield chunk

    return ExportStream(rendered(), None)


class ExportWritten(NamedTuple):
    records: int
    copied_from_cache: bool


class PreparedExport:
    """A checked export ready to be written to a file: a kernel copy of the cached export when
    there is one (`total` is then its size in bytes), else the rendered records (`total`
    records). Check first, open the output after, so a refused export leaves no file."""

    def __init__(self, stream: ExportStream, records: int) -> None:
        self._stream, self._records = stream, records
        self.cached = stream.cached is not None
        self.total = stream.cached_size if self.cached else records

    async def write_to(
        self, out: IO[bytes], on_progress: Callable[[int], None] = lambda done: None
    ) -> ExportWritten:
        """Write the export to `out`; `on_progress` gets the bytes copied or records written."""
        from tunix_rt.datasets.export_cache import copy_entry

        if self.cached:
            assert self._stream.cached is not None
            copied = 0

            def on_copied(size: int) -> None:
                nonlocal copied
                copied += size
                on_progress(copied)

            with self._stream.cached as entry:
                copy_entry(entry, out, on_copied)
            return ExportWritten(self._records, True)
        written = 0
        # Closed here when a write fails (a full disk): the read stops, the cache entry is dropped.
        async with aclosing(self._stream.chunks) as chunks:
            async for chunk in chunks:
                out.write(chunk)
                written += chunk.count(b"\n")
                on_progress(written)
        return ExportWritten(written, False)


async def prepare_export(
    engine: AsyncEngine,
    cache: ExportCache,
    key: str,
    fmt: str,
    split: str | None = None,
    system: str | None = None,
) -> PreparedExport:
    """Check an export request (`check_export`) and open its bytes (`open_export`)."""
    etag, records = await check_export(engine, key, fmt, split, system)
    return PreparedExport(open_export(engine, cache, key, fmt, split, system, etag), records)


async def manifest_counts(conn: AsyncConnection, key: str) -> dict[str, int]:
    """Records per split, and the whole dataset under `""`."""
    return _record_counts(await dataset_record(conn, key))


def _record_counts(record: dict[str, Any]) -> dict[str, int]:
    stats = record["manifest"].get("stats", {})
    return {"": record["trace_count"], **stats.get("split_counts", {})}
