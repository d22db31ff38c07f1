"""Running a job in this process: a signal asks it to stop cleanly at its next step, and its log
lines go to its log file. A worker process runs its job this way, and so do `tunix-rt train`
and `tunix-rt eval` in the foreground.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO


def print_line(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Foreground:
    """A job run in this process: `stop` is set by a signal, `log` appends to the job's log."""

    stop: threading.Event
    log: Callable[[str], None]


class _LogFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Records to the job's log file; one that cannot be written (a full disk) is dropped,
    not printed with a traceback on the terminal."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


@contextmanager
def libraries_output_to(log_file: TextIO, *, stderr: bool) -> Iterator[None]:
    """The libraries' log records (Tunix's, orbax's, JAX's warnings and errors, with their
    tracebacks) go to the job's log file while the job runs, as a worker's do (its stderr is
    its log file), instead of the terminal; with `stderr`, so does whatever is printed to
    `sys.stderr` (what a library's background thread reports as it fails)."""
    handler = _LogFileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    try:
        with redirect_stderr(log_file) if stderr else nullcontext():
            yield
    finally:
        root.handlers = saved


@contextmanager
def foreground_job(
    log_path: Path | None,
    signals: Sequence[signal.Signals] = (signal.SIGINT,),
    *,
    capture_stderr: bool = False,
) -> Iterator[Foreground]:
    """`signals` (Ctrl-C by default) ask the job to stop cleanly; its log lines, and the
    libraries' log records, go to `log_path`, or to stdout when None (a worker's stdout is its
    log file); with `capture_stderr`, so does `sys.stderr` (a caller that shows progress
    holds its own console). Call inside the running loop."""
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        if log_path is None:
            yield Foreground(stop, print_line)
            return
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with (
            log_path.open("a", encoding="utf-8") as log_file,
            libraries_output_to(log_file, stderr=capture_stderr),
        ):

            def log(line: str) -> None:
                log_file.write(line + "\n")
                log_file.flush()

            yield Foreground(stop, log)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
