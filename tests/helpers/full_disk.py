"""A full disk for a child command: a file size limit (`RLIMIT_FSIZE`) on its process, with
SIGXFSZ ignored, so that a write past the limit fails with EFBIG (as a write to a full disk
fails with ENOSPC) instead of killing it, whatever file it is."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from collections.abc import Callable

FULL = "the disk is full or a size limit was reached (File too large)"
#: What makes coverage measure a child process (its `patch = ["subprocess"]`).
_COVERAGE_START = frozenset({"COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG"})


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A child's set-up: no file it writes may grow past `max_bytes`."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


def limited(
    env: dict[str, str], max_bytes: int, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`tunix-rt ARGS` whose files cannot grow past `max_bytes`. Not measured for coverage
    (under `make test`): its data file could not be written either."""
    unmeasured = {k: v for k, v in env.items() if k not in _COVERAGE_START}
    return subprocess.run(
        [sys.executable, "-m", "tunix_rt", *args],
        env=unmeasured,
        input=stdin,
        capture_output=True,
        timeout=300,
        preexec_fn=file_size_limit(max_bytes),
    )
