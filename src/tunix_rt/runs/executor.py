"""The executor: claims queued jobs (training runs and evaluations) and runs each in its own
worker process.

It lives in the server process as one asyncio task. Every tick it reaps finished workers,
stops cancelled ones (SIGTERM, then SIGKILL after the grace period), and claims queued jobs
while fewer than `TUNIX_RT_MAX_CONCURRENT_RUNS` run. It watches, too, the jobs this host runs
in processes it did not start: the workers of an earlier server that was killed (a worker
outlives a SIGKILLed server and goes on training) and `tunix-rt train` / `tunix-rt eval` in
the foreground. One whose process is gone without recording how its job ended is marked
failed; a worker of an earlier server that is cancelled but does not stop is killed after the
grace period, as the executor's own are. When the server stops, it stops claiming and stops
every worker it started the same way, all at once, and records why their jobs ended.
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
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.runs import jobs
from tunix_rt.runs.jobs import Job
from tunix_rt.runs.paths import job_log
from tunix_rt.settings import Settings

POLL_SECONDS = 0.5
#: How long `stop` lets a tick in progress finish before it cancels the executor's task.
TICK_STOP_SECONDS = 5.0
#: The error of a job that was running when its server stopped.
SERVER_STOPPED = "the server stopped while it ran"
#: How long the process of a job another process started must be gone before the job is failed.
REAP_SECONDS = 2.0
logger = logging.getLogger(__name__)


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    stop_sent_at: float | None = None
    killed: bool = False


@dataclass
class Watched:
    """A job this host runs in a process the executor did not start (see `_watch`)."""

    gone_since: float | None = None
    cancel_seen_at: float | None = None
    killed: bool = False


@dataclass
class RunExecutor:
    engine: AsyncEngine
    settings: Settings
    workers: dict[Job, Worker] = field(default_factory=dict)
    watched: dict[Job, Watched] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tunix-rt run executor")

    def wake(self) -> None:
        """Look at the queue now (a job was just submitted or cancelled)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming jobs, then stop every worker at once: SIGTERM (a worker ends its job at
        its next step, as `cancelled`), SIGKILL after the grace period (the job `failed`). Either
        way the job's error is SERVER_STOPPED; no worker outlives this call."""
        await self._end_loop()
        outcomes = await asyncio.gather(
            *(self._shut_down(job, worker) for job, worker in list(self.workers.items())),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.error("job executor: %s: %s", type(outcome).__name__, outcome)

    async def _end_loop(self) -> None:
        """End the executor's task between two ticks (so no worker is left half-spawned), or
        cancel it when a tick takes longer than TICK_STOP_SECONDS."""
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=TICK_STOP_SECONDS)
        if not done:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            logger.error("job executor: %s: %s", type(exc).__name__, exc)

    async def _loop(self) -> None:
        await self.recover()
        while not self._stopping:
            try:
                await self.tick()
            except Exception as exc:  # keep the executor alive; the next tick retries
                logger.error("job executor: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            self._wake.clear()

    async def recover(self) -> None:
        """Fail jobs this host marked running whose process is gone (one that was being
        started when the last server stopped has no process id: it is gone too)."""
        for running in await jobs.running_here(self.engine):
            if running.job not in self.workers and not jobs.process_alive(running.pid):
                await jobs.finish(
                    self.engine, running.job.kind, running.job.id, "failed", error=jobs.PROCESS_GONE
                )

    async def tick(self) -> None:
        for job, worker in list(self.workers.items()):
            if worker.process.returncode is not None:
                await self._reap(job, worker)
        here = await jobs.running_here(self.engine)
        for running in here:
            mine = self.workers.get(running.job)
            if mine is None:
                await self._watch(running)
            elif running.cancel_requested:
                self._stop(mine)
        still = {running.job for running in here}
        self.watched = {job: seen for job, seen in self.watched.items() if job in still}
        while not self._stopping and len(self.workers) < self.settings.max_concurrent_runs:
            claimed = await jobs.claim_next(self.engine, self.settings.max_concurrent_runs)
            if claimed is None:
                break
            await self._spawn(claimed)

    async def _watch(self, running: jobs.RunningJob) -> None:
        """A job this host runs in a process the executor did not start: an earlier server's
        worker, a foreground job, or another server's worker. It is failed once its process
        has been gone for REAP_SECONDS (a process that ends its job records it first, and a
        server reaps its own worker within a tick and records its exit). A worker that a
        cancel has not stopped within the grace period is killed, and its job ends as the
        executor's own do; a foreground job sees the cancel itself and is never killed."""
        job, pid = running.job, running.pid
        if pid is None:  # another server on this host is starting its worker
            return
        seen = self.watched.setdefault(job, Watched())
        now = time.monotonic()
        if not jobs.process_alive(pid):
            if seen.gone_since is None:
                seen.gone_since = now
            elif seen.killed:
                error = f"cancelled ({self._killed_after()})"
                await jobs.finish(self.engine, job.kind, job.id, "cancelled", error=error)
            elif now - seen.gone_since >= REAP_SECONDS:
                await jobs.finish(self.engine, job.kind, job.id, "failed", error=jobs.PROCESS_GONE)
            return
        if not running.cancel_requested or not _is_worker_of(pid, job):
            return
        if seen.cancel_seen_at is None:
            seen.cancel_seen_at = now
        elif not seen.killed and now - seen.cancel_seen_at > self.settings.run_cancel_grace_seconds:
            _kill(pid)
            seen.killed = True

    def _stop(self, worker: Worker) -> None:
        """SIGTERM first (the worker stops at its next step), SIGKILL after the grace period."""
        if worker.stop_sent_at is None:
            worker.process.send_signal(signal.SIGTERM)
            worker.stop_sent_at = time.monotonic()
        elif (
            not worker.killed
            and time.monotonic() - worker.stop_sent_at > self.settings.run_cancel_grace_seconds
        ):
            _kill(worker.process.pid)
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
        """Record how a job whose worker exited ended, unless the worker recorded it itself: a
        cancelled one as `cancelled`, any other as `failed` with the worker's exit status."""
        del self.workers[job]
        if worker.stop_sent_at is not None:
            error = "cancelled"
            if worker.killed:
                error = f"cancelled ({self._killed_after()})"
            await jobs.finish(self.engine, job.kind, job.id, "cancelled", error=error)
        else:
            await jobs.finish(
                self.engine,
                job.kind,
                job.id,
                "failed",
                error=f"the worker process exited with {_exit(worker.process.returncode)}",
            )

    async def _shut_down(self, job: Job, worker: Worker) -> None:
        """Stop a worker because the server stops (SIGTERM, then SIGKILL after the grace
        period) and record the end of its job: SERVER_STOPPED as the error of a job its worker
        ended as `cancelled`, `failed` with it for one it did not end."""
        killed = False
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                worker.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(
                    worker.process.wait(), self.settings.run_cancel_grace_seconds
                )
            except TimeoutError:
                _kill(worker.process.pid)
                killed = True
                await worker.process.wait()
        if worker.stop_sent_at is not None:  # a cancel was under way: it ends as a cancel
            worker.killed = worker.killed or killed
            await self._reap(job, worker)
            return
        del self.workers[job]
        reason = f"{SERVER_STOPPED} ({self._killed_after()})" if killed else SERVER_STOPPED
        await jobs.finish(self.engine, job.kind, job.id, "failed", error=reason)
        await jobs.explain_stop(self.engine, job.kind, job.id, SERVER_STOPPED)

    def _killed_after(self) -> str:
        grace = self.settings.run_cancel_grace_seconds
        return f"the worker did not stop within {grace:g} s and was killed"


def _kill(pid: int) -> None:
    """SIGKILL the worker `pid` and whatever it started (its own process group: `_spawn` has it
    lead a session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _is_worker_of(pid: int, job: Job) -> bool:
    """Whether process `pid` is a worker running `job` (`python -m tunix_rt.runs.worker KIND
    ID`), not a foreground job nor another process that was given the pid since."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone, or no /proc here: never kill what cannot be told apart
        return False
    return argv[1:5] == [b"-m", b"tunix_rt.runs.worker", job.kind.encode(), str(job.id).encode()]


def _exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
