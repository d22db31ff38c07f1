"""A consistent copy of a SQLite database, made while servers and commands keep writing to it.

SQLite's online backup API copies every page in one step, inside one read transaction: the copy
is the database as it was at one moment, every transaction committed by then in it, none after.
In WAL mode writers go on meanwhile. The copy is written beside the target and renamed into
place once complete, so the target is either the whole copy or untouched.

PostgreSQL has its own tool for this (`pg_dump`); the error for a PostgreSQL URL says how.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from tunix_rt.db.engine import sqlite_path
from tunix_rt.errors import ConflictError, InvalidInputError, NotFoundError, UnavailableError

__all__ = ["COUNTED_TABLES", "Backup", "backup_database", "pg_dump_hint"]

#: Tables whose rows a backup counts: what its user recognises in the copy.
COUNTED_TABLES = ("traces", "datasets", "runs")


@dataclass(frozen=True)
class Backup:
    """A finished backup: where the copy is, its size, and the rows of `COUNTED_TABLES`."""

    source: Path
    path: Path
    size_bytes: int
    traces: int
    datasets: int
    runs: int


def pg_dump_hint(database_url: str, target: Path) -> str:
    """The `pg_dump` command that backs up the PostgreSQL database at `database_url` to
    `target` (its password, if any, is left out: pg_dump asks for it or reads PGPASSWORD)."""
    url = make_url(database_url)
    parts = ["pg_dump", "-Fc"]
    if url.host:
        parts += ["-h", url.host]
    if url.port:
        parts += ["-p", str(url.port)]
    if url.username:
        parts += ["-U", url.username]
    parts += ["-f", str(target), url.database or "DBNAME"]
    return " ".join(parts)


def backup_database(database_url: str, target: Path, *, force: bool = False) -> Backup:
    """Copy the SQLite database at `database_url` to `target`, consistently, while it is in use.

    ConflictError when `target` exists (unless `force`: then it is replaced, atomically);
    InvalidInputError for a PostgreSQL or in-memory URL, a target that is the database itself,
    or a folder the copy cannot be written in; NotFoundError when the database file is missing.
    """
    source = _source(database_url, target)
    if not source.is_file():
        raise NotFoundError(f"no database at {source}")
    if target.is_dir():
        raise InvalidInputError(f"{target} is a folder; name the backup's file")
    if target.exists() and target.resolve() == source.resolve():
        raise InvalidInputError(f"{target} is the database itself; back it up to another file")
    if target.exists() and not force:
        raise ConflictError(f"{target} already exists; pass --force to replace it")
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInputError(f"cannot write in {target.parent}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        counts = _copy(source, tmp)
        try:
            _sync(tmp)
            _move(tmp, target, force=force)
        except OSError as exc:
            raise InvalidInputError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        for leftover in (tmp, *(Path(f"{tmp}{end}") for end in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    return Backup(source, target, target.stat().st_size, *counts)


def _source(database_url: str, target: Path) -> Path:
    source = sqlite_path(database_url)
    if source is not None:
        return source
    if make_url(database_url).get_backend_name() == "postgresql":
        raise InvalidInputError(
            "db backup copies SQLite databases; this is PostgreSQL: back it up with "
            f"`{pg_dump_hint(database_url, target)}` and restore it with pg_restore"
        )
    raise InvalidInputError("an in-memory SQLite database has no file to back up")


def _copy(source: Path, tmp: Path) -> tuple[int, int, int]:
    """Copy `source` into the (empty) file `tmp` in one backup step; the rows it counts there."""
    try:
        with (
            closing(sqlite3.connect(source, timeout=30)) as src,
            closing(sqlite3.connect(tmp)) as dst,
        ):
            src.backup(dst)  # pages=-1: all pages in one step, from one read transaction
            dst.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
            tables = {row[0] for row in dst.execute("SELECT name FROM sqlite_master")}
            counts = [
                dst.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                if table in tables
                else 0
                for table in COUNTED_TABLES
            ]
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise InvalidInputError(f"{source} is not a SQLite database") from None
        raise UnavailableError(f"backup of {source} failed: {exc}") from None
    return counts[0], counts[1], counts[2]


def _sync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _move(tmp: Path, target: Path, *, force: bool) -> None:
    """Put the finished copy at `target`: replacing it (`force`), or only if it does not exist
    (a hard link fails on an existing name, so a file created meanwhile is never overwritten)."""
    if force:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise ConflictError(f"{target} already exists; pass --force to replace it") from None
        except OSError:  # a file system without hard links
            if target.exists():
                raise ConflictError(
                    f"{target} already exists; pass --force to replace it"
                ) from None
            os.replace(tmp, target)
    with suppress(OSError):  # the rename itself survives a crash once its folder is synced
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
