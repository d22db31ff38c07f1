"""What the dashboard reports about this installation: the database, how much it holds, and what
is installed (Tunix, UNGAR, the JAX devices a run would train on)."""

from __future__ import annotations

import subprocess
import sys
import threading

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tunix_rt.db.models import datasets_table, evaluations_table, runs_table, traces_table
from tunix_rt.runs.availability import missing_training_modules

#: Listing the JAX devices imports JAX, which the server never does: a child process asks, once.
_DEVICES_SCRIPT = "import jax; print('\\n'.join(str(d) for d in jax.devices()))"
_DEVICES_TIMEOUT_SECONDS = 120


class Counts(BaseModel):
    traces: int
    datasets: int
    runs: int
    evaluations: int


class DatabaseStatus(BaseModel):
    kind: str
    healthy: bool
    reason: str | None = None


async def counts(conn: AsyncConnection) -> Counts:
    """The rows of each kind, in one query."""
    tables = {
        "traces": traces_table,
        "datasets": datasets_table,
        "runs": runs_table,
        "evaluations": evaluations_table,
    }
    stmt = select(
        *(select(func.count()).select_from(t).scalar_subquery().label(n) for n, t in tables.items())
    )
    row = (await conn.execute(stmt)).one()
    return Counts.model_validate(dict(row._mapping))


async def database_status(engine: AsyncEngine) -> DatabaseStatus:
    kind = "SQLite" if engine.dialect.name == "sqlite" else "PostgreSQL"
    try:
        async with engine.connect() as conn:
            await conn.execute(select(1))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return DatabaseStatus(kind=kind, healthy=False, reason=reason)
    return DatabaseStatus(kind=kind, healthy=True)


class JaxDevices:
    """The JAX devices, found once by a child process on a background thread (so no request
    waits for JAX to start). `current()` is None while it looks, `[]` when the training stack is
    not installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._devices: list[str] | None = None

    def current(self) -> list[str] | None:
        if missing_training_modules():
            return []
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._look, name="jax-devices", daemon=True)
                self._thread.start()
        return self._devices

    def _look(self) -> None:
        try:
            done = subprocess.run(
                [sys.executable, "-c", _DEVICES_SCRIPT],
                capture_output=True,
                text=True,
                timeout=_DEVICES_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired:
            self._devices = ["(JAX did not answer)"]
            return
        if done.returncode != 0:
            self._devices = ["(JAX failed to start)"]
            return
        self._devices = [line for line in done.stdout.splitlines() if line.strip()]


jax_devices = JaxDevices()
