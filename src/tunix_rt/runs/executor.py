"""The executor: claims queued jobs (training runs and evaluations) and runs each in its own
worker process.

It lives in the server process as one asyncio task. Every tick it reaps finished workers,
stops cancelled ones (SIGTERM, then SIGKILL after the grace period), and claims queued jobs
while fewer than `TUNIX_RT_MAX_CONCURRENT_RUNS` run. On start it marks jobs that this host was
running, but whose process is gone, as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.runs import jobs
from tunix_rt.runs.jobs import Job
from tunix_rt.runs.paths import job_log
from tunix_rt.settings import Settings

POLL_SECONDS = 0.5
logger = logging.getLogger(__name__)


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    stop_sent_at: float | None = None
    killed: bool = False


@dataclass
class RunExecutor:
    engine: AsyncEngine
    settings: Settings
    workers: dict[Job, Worker] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tunix-rt run executor")

    def wake(self) -> None:
        """Look at the queue now (a job was just submitted or cancelled)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for job, worker in list(self.workers.items()):
            await self._terminate(job, worker, reason="the server stopped while it ran")

    async def _loop(self) -> None:
        await self.recover()
        while True:
            try:
                await self.tick()
            except Exception as exc:  # keep the executor alive; the next tick retries
                logger.error("job executor: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    async def recover(self) -> None:
        """Fail jobs this host marked running whose process is gone."""
        for running in await jobs.running_here(self.engine):
            job, pid = running.job, running.pid
            if job in self.workers or (pid is not None and _alive(pid)):
                continue
            await jobs.finish(
                self.engine,
                job.kind,
                job.id,
                "failed",
                error="the worker process is gone (the server stopped or crashed while it ran)",
            )

    async def tick(self) -> None:
        for job, worker in list(self.workers.items()):
            if worker.process.returncode is not None:
                await self._reap(job, worker)
        for running in await jobs.running_here(self.engine):
            cancelled = self.workers.get(running.job)
            if cancelled is not None and running.cancel_requested:
                self._stop(cancelled)
        while len(self.workers) < self.settings.max_concurrent_runs:
            claimed = await jobs.claim_next(self.engine, self.settings.max_concurrent_runs)
            if claimed is None:
                break
            await self._spawn(claimed)

    def _stop(self, worker: Worker) -> None:
        """SIGTERM first (the worker stops at its next step), SIGKILL after the grace period."""
        if worker.stop_sent_at is None:
            worker.process.send_signal(signal.SIGTERM)
            worker.stop_sent_at = time.monotonic()
        elif (
            not worker.killed
            and time.monotonic() - worker.stop_sent_at > self.settings.run_cancel_grace_seconds
        ):
            worker.process.kill()
            worker.killed = True

    async def _spawn(self, job: Job) -> None:
        log = job_log(self.settings.runs_dir, job)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["TUNIX_RT_DATABASE_URL"] = self.settings.database_url
        env["TUNIX_RT_RUNS_DIR"] = str(self.settings.runs_dir.resolve())
        env["TUNIX_RT_DATA_DIR"] = str(self.settings.data_dir.resolve())
        env.pop("TUNIX_RT_MODELS_DIR", None)  # the worker confines paths as this process does
        if self.settings.models_dir is not None:
            env["TUNIX_RT_MODELS_DIR"] = str(self.settings.models_dir.resolve())
        with log.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tunix_rt.runs.worker",
                job.kind,
                str(job.id),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self.workers[job] = Worker(process)
        await jobs.set_pid(self.engine, job, process.pid)

    async def _reap(self, job: Job, worker: Worker) -> None:
        del self.workers[job]
        code = worker.process.returncode
        if worker.stop_sent_at is not None:
            await jobs.finish(self.engine, job.kind, job.id, "cancelled", error="cancelled")
        else:
            await jobs.finish(
                self.engine,
                job.kind,
                job.id,
                "failed",
                error=f"the worker process exited with {_exit(code)}",
            )

    async def _terminate(self, job: Job, worker: Worker, *, reason: str) -> None:
        if worker.process.returncode is None:
            worker.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(
                    worker.process.wait(), self.settings.run_cancel_grace_seconds
                )
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        await jobs.finish(self.engine, job.kind, job.id, "failed", error=reason)
        self.workers.pop(job, None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
