"""Running a job in this process: a signal asks it to stop cleanly at its next step, and its log
lines go to its log file. A worker process runs its job this way, and so do `tunix-rt train`
and `tunix-rt eval` in the foreground.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def print_line(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Foreground:
    """A job run in this process: `stop` is set by a signal, `log` appends to the job's log."""

    stop: threading.Event
    log: Callable[[str], None]


@contextmanager
def foreground_job(
    log_path: Path | None, signals: Sequence[signal.Signals] = (signal.SIGINT,)
) -> Iterator[Foreground]:
    """`signals` (Ctrl-C by default) ask the job to stop cleanly; its log lines go to `log_path`,
    or to stdout when None (a worker's stdout is its log file). Call inside the running loop."""
    stop = threading.Event()
    loop = asyncio.get_running_loop()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        if log_path is None:
            yield Foreground(stop, print_line)
            return
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as log_file:

            def log(line: str) -> None:
                log_file.write(line + "\n")
                log_file.flush()

            yield Foreground(stop, log)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
