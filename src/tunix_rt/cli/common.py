"""What every command shares: running a service call, one-line errors, progress, safe output."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from tunix_rt.errors import TunixRTError

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# What a command needs beyond Typer and Rich (the database, the API, the services) is imported
# inside the command, so that a command that touches no database loads no SQLAlchemy (a group's
# module is imported whole to build any of its commands).

err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True)
    return typer.Exit(code)


def say(message: str) -> None:
    """One plain line on stderr: no markup, no highlighting, never wrapped."""
    err.print(message, highlight=False, markup=False, soft_wrap=True)


def _current_context() -> Any:
    """The running command's context (Typer's own copy of Click, as `cli/__init__` uses)."""
    from typer._click.globals import get_current_context

    return get_current_context(silent=True)


def option_name(field: str | int) -> str | None:
    """How the running command's user names the request field `field`: the option (`--split`)
    or argument (`KEY`) of that name, or None when the command has none."""
    ctx = _current_context()
    for param in ctx.command.params if ctx is not None else ():
        if param.name == field:
            if param.param_type_name == "option":
                return str(max(param.opts, key=len))  # the long form
            return str(param.human_readable_name)
    return None


def error_line(exc: TunixRTError) -> str:
    """A domain error's one line; the field an error names is named by its option first
    (`--split: dataset d-1 has no split 'x' ...`)."""
    if exc.loc:
        option = option_name(exc.loc[0])
        if option is not None:
            return f"{option}: {exc}"
    return str(exc)


@contextmanager
def domain_errors() -> Iterator[None]:
    """The CLI's one mapping of domain errors: an `error:` line on stderr and exit code 1. A
    write refused for want of space (a full disk, a quota, a file size limit; of a file or of
    the database) is the domain error `DiskFullError`."""
    from tunix_rt.disk_full import disk_full_error

    try:
        yield
    except TunixRTError as exc:
        raise fail(error_line(exc)) from None
    except Exception as exc:
        full = disk_full_error(exc)
        if full is None:
            raise
        raise fail(error_line(full)) from None


def run(make: Callable[[AsyncEngine], Coroutine[Any, Any, T]], *, migrate: bool = True) -> T:
    """Run one async service call on a fresh engine (schema brought up to date first).

    Domain, database and file errors become one line on stderr and exit code 1.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tunix_rt.db.engine import create_engine
    from tunix_rt.db.migrate import ensure_schema
    from tunix_rt.settings import get_settings

    async def main() -> T:
        engine = create_engine(get_settings().database_url)
        try:
            if migrate:
                await ensure_schema(engine)
            return await make(engine)
        finally:
            await engine.dispose()

    try:
        with domain_errors():
            return asyncio.run(main())
    except (OSError, SQLAlchemyError) as exc:
        if os.environ.get("TUNIX_RT_DEBUG"):
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(f"{message} (TUNIX_RT_DEBUG=1 shows the traceback)") from None


def run_read(query: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
    """`run` for a read: `query` gets one connection."""

    async def main(engine: AsyncEngine) -> T:
        async with engine.connect() as conn:
            return await query(conn)

    return run(main)


def parse_id(text: str, what: str) -> uuid.UUID:
    """A UUID argument, or one clear line and exit 1."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise fail(f"{text!r} is not a {what} id (UUID)") from None


@contextmanager
def open_input(path: str) -> Iterator[tuple[IO[bytes], int | None]]:
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror}") from None
    with handle:
        yield handle, os.fstat(handle.fileno()).st_size


@contextmanager
def progress_bar(console: Console, total_bytes: int | None) -> Iterator[Progress]:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn()]
    if total_bytes is not None:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


@contextmanager
def atomic_output(path: str) -> Iterator[IO[bytes]]:
    """stdout for `-`; otherwise a temporary file renamed over `path` only when complete. A
    full disk names `path` (the temporary file's name means nothing to the user)."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    from tunix_rt.atomic_file import atomic_file
    from tunix_rt.disk_full import FULL_ERRNOS

    try:
        with atomic_file(Path(path)) as handle:
            yield handle
    except OSError as exc:
        if exc.errno in FULL_ERRNOS and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
