"""A real `tunix-rt serve` process on a free loopback port, for tests that need a live server,
and real `tunix-rt` command runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUNIX_RT_")}
    env["TUNIX_RT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def run_cli(
    env: dict[str, str],
    *args: str,
    stdin: bytes | None = None,
    text: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """`tunix-rt ARGS` in a child process with `env` (from `cli_env`), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "tunix_rt", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Server:
    """A running `tunix-rt serve`: where it answers, and its process (to signal it)."""

    base_url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_server(database_url: str, **env: str) -> Iterator[str]:
    """Start the server (it applies migrations), wait for /api/health, yield its base URL.

    It runs in a temporary folder that also holds its data and runs folders unless `env`
    names them (TUNIX_RT_DATA_DIR, TUNIX_RT_RUNS_DIR).
    """
    with server_process(database_url, **env) as server:
        yield server.base_url


@contextmanager
def server_process(database_url: str, **env: str) -> Iterator[Server]:
    """`running_server`, yielding the server's process too. A test may stop it itself."""
    with tempfile.TemporaryDirectory(prefix="tunix-rt-server-") as folder:
        env = {
            "TUNIX_RT_DATA_DIR": os.path.join(folder, "data"),
            "TUNIX_RT_RUNS_DIR": os.path.join(folder, "runs"),
            **env,
        }
        process, base_url = start_server(database_url, folder, env)
        try:
            yield Server(base_url, process)
        finally:
            stop_server(process)


def start_server(
    database_url: str, cwd: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `tunix-rt serve` in `cwd` with `env` on a free port and wait for /api/health:
    the process (stop it with `stop_server`, or kill it) and its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tunix_rt", "serve", "--port", str(port)],
        cwd=cwd,
        env=cli_env(database_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=1) as client:  # one client: each new one loads TLS roots
            while True:
                if process.poll() is not None:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"server exited with {process.returncode}: {stderr}")
                try:
                    if client.get(f"{base_url}/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not become healthy in 30 s")
                time.sleep(0.1)
    except BaseException:
        stop_server(process)
        raise
    return process, base_url


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server (killed if it takes more than 10 s); nothing if it already exited."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr is not None:
        process.stderr.close()
