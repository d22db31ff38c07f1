"""Finished exports kept on disk, so that exporting a dataset again copies a file.

A built dataset never changes, and an export's ETag names its exact bytes (see
`export.export_etag`), so an export written once can be served again as long as it is kept:

    <data_dir>/datasets/<key>/exports/<etag>.jsonl

* An entry appears only whole: the first export streams from the database and writes a
  temporary file beside the entry as it goes; the file is renamed into place only after the
  last line, and dropped if the export stops early (an error, a client that went away).
* The cache is bounded: once an entry is added, the least recently used entries are removed
  until all of them together fit in `max_bytes`. An export larger than `max_bytes` is not kept.
  `max_bytes = 0` turns the cache off.
* Deleting a dataset deletes its entries (they live in the dataset's folder).
* The cache never fails an export: if the disk refuses a write (full, read-only), the entry is
  dropped and the export goes on from the database. An entry evicted by another process is no
  problem either: a reader holds the file open from the moment it finds it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from tunix_rt.datasets.paths import manifest_path
from tunix_rt.settings import Settings

SUFFIX = ".jsonl"
#: A temporary file not written to for this long belongs to an export that will never finish.
STALE_TEMPORARY_SECONDS = 3600
#: Bytes per kernel copy of an entry (between two progress reports).
COPY_BYTES = 64 * 1024 * 1024
#: Bytes per read of an entry streamed in chunks.
READ_BYTES = 1024 * 1024
_ETAG_CHARACTERS = frozenset("0123456789abcdef")


class CacheEntryWriter:
    """Bytes of an export being written; `ExportCache.writer` commits or drops them."""

    def __init__(self, handle: IO[bytes], max_bytes: int) -> None:
        self._handle = handle
        self._left = max_bytes
        self.abandoned = False

    def write(self, chunk: bytes) -> None:
        if self.abandoned:
            return
        self._left -= len(chunk)
        if self._left < 0:  # larger than the whole cache: not worth keeping
            self.abandoned = True
            return
        try:
            self._handle.write(chunk)
        except OSError:  # disk full, quota, I/O error: give up on this entry, not the export
            self.abandoned = True


class ExportCache:
    """Whole exports under the data directory, at most `max_bytes` in all."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.data_dir = data_dir
        self.max_bytes = max_bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportCache:
        return cls(settings.data_dir, settings.export_cache_bytes)

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def folder(self, key: str) -> Path:
        """`<data_dir>/datasets/<key>/exports`; InvalidInputError for a key that is not a name."""
        return manifest_path(self.data_dir, key).parent / "exports"

    def entry_path(self, key: str, etag: str) -> Path:
        name = etag.strip('"')
        if len(name) != 64 or not _ETAG_CHARACTERS.issuperset(name):
            raise ValueError(f"not an export ETag: {etag!r}")
        return self.folder(key) / (name + SUFFIX)

    def open(self, key: str, etag: str) -> IO[bytes] | None:
        """The entry of export `etag`, open for reading, or None when it is not cached."""
        if not self.enabled:
            return None
        path = self.entry_path(key, etag)
        try:
            handle = path.open("rb")
        except OSError:  # not cached, or unreadable: render it
            return None
        with suppress(OSError):  # recently used: evicted last
            _touch(handle.fileno())
        return handle

    @contextmanager
    def writer(self, key: str, etag: str) -> Iterator[CacheEntryWriter | None]:
        """A writer for export `etag` (None when the cache is off or the disk refuses): its
        bytes become the entry when the block ends normally, and are dropped when it raises or
        the writer was abandoned."""
        path: Path | None = self.entry_path(key, etag) if self.enabled else None
        handle: IO[bytes] | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below)
                    dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
                )
            except OSError:
                handle = None
        if path is None or handle is None:
            yield None
            return
        tmp = Path(handle.name)
        writer = CacheEntryWriter(handle, self.max_bytes)
        try:
            yield writer
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise
        try:
            handle.close()
            kept = not writer.abandoned
            if kept:
                os.replace(tmp, path)
        except OSError:  # the last flush failed, or the folder went away (dataset deleted)
            kept = False
        if not kept:
            tmp.unlink(missing_ok=True)
            return
        with suppress(OSError):
            _touch(path)
        self.evict(keep=path)

    def entries(self) -> list[Path]:
        """Every committed entry, of every dataset."""
        return list((self.data_dir / "datasets").glob(f"*/exports/*{SUFFIX}"))

    def evict(self, keep: Path | None = None) -> None:
        """Remove least recently used entries until the rest fit in `max_bytes`, and the
        temporary files of exports that died unfinished (a killed process)."""
        stale = time.time() - STALE_TEMPORARY_SECONDS
        for path in (self.data_dir / "datasets").glob("*/exports/.*.tmp"):
            with suppress(FileNotFoundError):
                if path.stat().st_mtime < stale:
                    path.unlink()
        sized: list[tuple[float, int, Path]] = []
        for path in self.entries():
            with suppress(FileNotFoundError):  # another process evicted it meanwhile
                stat = path.stat()
                sized.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in sized)
        for _, size, path in sorted(sized, key=lambda entry: entry[0]):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size


def _touch(file: int | Path) -> None:
    """Mark an entry used now, to the nanosecond (the kernel's own timestamps of a write are
    coarser: two entries written milliseconds apart can carry the same one)."""
    now = time.time_ns()
    os.utime(file, ns=(now, now))


def copy_entry(entry: IO[bytes], out: IO[bytes], on_copied: Callable[[int], None]) -> None:
    """Copy an open entry to `out` from its current offset, inside the kernel (`sendfile`)
    where it can; `on_copied(n)` after each piece of `n` bytes."""
    out.flush()
    offset = entry.tell()
    try:
        while sent := os.sendfile(out.fileno(), entry.fileno(), offset, COPY_BYTES):
            offset += sent
            on_copied(sent)
    except OSError:  # no sendfile to this kind of file: copy through user space
        entry.seek(offset)
        while chunk := entry.read(READ_BYTES):
            out.write(chunk)
            on_copied(len(chunk))
        return
    entry.seek(offset)


async def entry_chunks(entry: IO[bytes]) -> AsyncGenerator[bytes, None]:
    """An open entry's bytes, read off the event loop; the entry is closed at the end."""
    with entry:
        while chunk := await asyncio.to_thread(entry.read, READ_BYTES):
            yield chunk
