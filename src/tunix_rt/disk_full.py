"""Recognising a full disk: a write refused because there is no space left, a quota or a file
size limit was reached, by the operating system or by the database.

`disk_full_error(exc)` turns such an exception (or one it was raised from) into a
`DiskFullError` with one clear line; every other exception gives None. The front doors map it
like any domain error.
"""

from __future__ import annotations

import errno
import os

from tunix_rt.errors import DiskFullError

#: The errors of a write that found no room: no space left, a disk quota, a file size limit.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
#: How the C libraries under us (orbax's TensorStore, for one) word those errors in a message.
_FULL_WORDS = tuple(os.strerror(number) for number in sorted(FULL_ERRNOS))
#: SQLite's result code for "database or disk is full" (a write that found no space), its
#: extended code for a write the operating system refused (how a file size limit or a quota
#: shows), and PostgreSQL's SQLSTATE `disk_full`.
SQLITE_FULL = 13
SQLITE_IOERR_WRITE = 778
POSTGRES_DISK_FULL = "53100"
_ADVICE = "the disk is full or a size limit was reached"


def disk_full_error(exc: BaseException) -> DiskFullError | None:
    """The DiskFullError `exc` amounts to, or None: an OSError with a full-disk errno, a
    database that could not grow or write its file (SQLite's SQLITE_FULL and
    SQLITE_IOERR_WRITE, PostgreSQL's disk_full), or an error whose message carries one of
    those errnos' words, looked for in `exc` and in the exceptions it was raised from."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found = _recognise(current)
        if found is not None:
            return found
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return None


def _recognise(exc: BaseException) -> DiskFullError | None:
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        what = f"could not write {exc.filename}" if exc.filename else "a write failed"
        return DiskFullError(f"{what}: {_ADVICE} ({os.strerror(exc.errno)})")
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", None)
    if code == SQLITE_FULL or getattr(exc, "sqlstate", None) == POSTGRES_DISK_FULL:
        return DiskFullError(f"the database could not grow: {_ADVICE} ({detail})")
    if code == SQLITE_IOERR_WRITE:
        return DiskFullError(
            f"the database could not write its file: {_ADVICE}, or the disk failed ({detail})"
        )
    message = str(exc)
    for words in _FULL_WORDS:
        if words in message:
            return DiskFullError(f"a write failed: {_ADVICE} ({words})")
    return None


__all__ = ["FULL_ERRNOS", "disk_full_error"]
