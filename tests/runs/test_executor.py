"""The registry without training: the 503 without the extra, claiming, recovery, watching the
processes of jobs the executor did not start, queued cancel."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.errors import NotFoundError
from tunix_rt.runs import availability, jobs, store
from tunix_rt.runs import executor as executor_module
from tunix_rt.runs.executor import RunExecutor
from tunix_rt.runs.jobs import PROCESS_GONE
from tunix_rt.settings import Settings

MANIFEST = {
    "model": {"model_id": "m"},
    "dataset": {"key": "d-1", "path": "datasets/d-1/tunix_sft.jsonl"},
    "output": {"output_dir": "model"},
}


async def _dataset(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/traces", json=make_trace(1))).status_code == 201
    build = {"dataset_name": "d", "dataset_version": "1"}
    assert (await client.post("/api/datasets/build", json=build)).status_code == 201


async def test_without_the_train_extra_runs_are_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _dataset(client)
    monkeypatch.setattr(availability, "TRAINING_MODULES", ("jax", "no_such_module_for_tunix_rt"))
    response = await client.post(
        "/api/tunix/run", json={"dataset_key": "d-1", "model_id": "m", "dry_run": True}
    )
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the training stack is not installed (missing: no_such_module_for_tunix_rt); "
        "install the `train` extra: pip install -e '.[train]'"
    }


async def test_claims_respect_the_concurrency_cap(engine: AsyncEngine) -> None:
    first = await store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    second = await store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    assert await jobs.claim_next(engine, 1) == jobs.Job("run", first, first)
    assert await jobs.claim_next(engine, 1) is None
    assert await jobs.claim_next(engine, 2) == jobs.Job("run", second, second)
    assert await jobs.claim_next(engine, 3) is None
    assert await jobs.finish(engine, "run", first, "succeeded")
    assert not await jobs.finish(engine, "run", first, "failed")


@pytest.fixture
def zombie() -> Iterator[int]:
    """The pid of a child process that has ended but is not reaped yet (a zombie), as a killed
    server's worker is until someone reaps it."""
    child = subprocess.Popen(["sleep", "600"])
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, still unreaped
    assert Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] == "Z"
    yield child.pid
    child.wait()


async def test_a_job_whose_process_is_gone_is_failed_by_the_next_ticks(
    engine: AsyncEngine,
    tmp_path: Path,
    database_url: str,
    zombie: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A job running here in a process the executor did not start (an earlier server's worker)
    is failed once that process is gone (a zombie is), not at the first tick that sees it gone;
    one whose process lives (a foreground job, this test) is left running even when cancelled,
    and is not killed."""
    monkeypatch.setattr(executor_module, "REAP_SECONDS", 0.0)
    gone = await store.create_run(
        engine, dataset_key="d-1", manifest=MANIFEST, status="running", pid=zombie
    )
    here = await store.create_run(
        engine, dataset_key="d-1", manifest=MANIFEST, status="running", pid=os.getpid()
    )
    assert await jobs.request_cancel(engine, "run", here) == "running"
    settings = Settings(database_url=database_url, runs_dir=tmp_path, run_cancel_grace_seconds=0.01)
    executor = RunExecutor(engine, settings)

    async def statuses() -> list[tuple[str, str | None]]:
        async with engine.connect() as conn:
            runs = [await store.get_run(conn, run_id) for run_id in (gone, here)]
        return [(run.status, run.error) for run in runs]

    await executor.tick()
    assert await statuses() == [("running", None), ("running", None)]
    await executor.tick()
    assert await statuses() == [("failed", PROCESS_GONE), ("running", None)]


async def test_cancel_of_a_queued_run_is_immediate(engine: AsyncEngine) -> None:
    run_id = await store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    assert await jobs.request_cancel(engine, "run", run_id) == "cancelled"
    async with engine.connect() as conn:
        run = await store.get_run(conn, run_id)
    assert run.status == "cancelled"
    assert run.error == "cancelled before it started"
    assert await jobs.claim_next(engine, 1) is None


async def test_recovery_fails_runs_whose_process_is_gone(
    engine: AsyncEngine, tmp_path: Path, database_url: str
) -> None:
    gone = await store.create_run(
        engine, dataset_key="d-1", manifest=MANIFEST, status="running", pid=2**22 + 12345
    )
    import os

    alive = await store.create_run(
        engine, dataset_key="d-1", manifest=MANIFEST, status="running", pid=os.getpid()
    )
    executor = RunExecutor(engine, Settings(database_url=database_url, runs_dir=tmp_path))
    await executor.recover()
    async with engine.connect() as conn:
        assert (await store.get_run(conn, gone)).status == "failed"
        assert (await store.get_run(conn, gone)).error == (
            "the worker process is gone (the server stopped or crashed while it ran)"
        )
        assert (await store.get_run(conn, alive)).status == "running"
    with pytest.raises(NotFoundError, match="not found"):
        await jobs.request_cancel(engine, "run", uuid.uuid4())


async def test_a_stop_is_explained_only_for_jobs_that_stopped_uncancelled(
    engine: AsyncEngine,
) -> None:
    """The reason a stopping server gives goes to a run its worker ended as cancelled without a
    cancel request; a cancelled-on-request or finished run keeps its own error."""

    async def running() -> uuid.UUID:
        return await store.create_run(
            engine, dataset_key="d-1", manifest=MANIFEST, status="running", pid=1
        )

    stopped, asked, done = await running(), await running(), await running()
    assert await jobs.request_cancel(engine, "run", asked) == "running"
    for run_id in (stopped, asked):
        assert await jobs.finish(engine, "run", run_id, "cancelled")
    assert await jobs.finish(engine, "run", done, "succeeded")
    for run_id in (stopped, asked, done):
        await jobs.explain_stop(engine, "run", run_id, "the server stopped")
    async with engine.connect() as conn:
        errors = [(await store.get_run(conn, r)).error for r in (stopped, asked, done)]
    assert errors == ["the server stopped", None, None]


async def test_two_servers_claiming_at_once_respect_the_cap(
    engine: AsyncEngine, database_url: str
) -> None:
    """Two engines (two servers' pools) race for the queue: one run starts, the other waits."""
    import asyncio

    from tunix_rt.db.engine import create_engine

    for _ in range(3):
        await store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    other = create_engine(database_url)
    try:
        results = await asyncio.gather(
            *(jobs.claim_next(e, 1) for e in (engine, other, engine, other))
        )
    finally:
        await other.dispose()
    assert sum(r is not None for r in results) == 1
    assert len(await jobs.running_here(engine)) == 1


async def test_a_manifest_naming_only_the_dataset_key_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    """`dataset.path` left out: the runner's export path for that key."""
    await _dataset(client)
    manifest = "model: {model_id: m}\ndataset: {key: d-1}\noutput: {output_dir: model}\n"
    response = await client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest, "dry_run": True}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "validated"
    assert response.json()["manifest_yaml"] == (
        "version: '1.0'\n"
        "runner: tunix\n"
        "mode: sft\n"
        "model:\n"
        "  model_id: m\n"
        "dataset:\n"
        "  key: d-1\n"
        "  format: tunix_sft\n"
        "  path: datasets/d-1/tunix_sft.jsonl\n"
        "training:\n"
        "  learning_rate: 0.003\n"
        "  num_epochs: 3\n"
        "  batch_size: 8\n"
        "  max_seq_length: 2048\n"
        "output:\n"
        "  output_dir: model\n"
    )


async def test_the_status_and_the_run_check_agree_on_the_training_stack(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tunix itself installed, another module of the stack missing: not available either way."""
    import importlib.metadata

    monkeypatch.setattr(availability, "TRAINING_MODULES", ("tunix", "no_such_module_for_tunix_rt"))
    assert (await client.get("/api/tunix/status")).json() == {
        "available": False,
        "version": importlib.metadata.version("google-tunix"),
        "runtime_required": False,
        "message": "the training stack is incomplete (missing: no_such_module_for_tunix_rt): "
        "manifests and exports work without it; to train here, install the training extra "
        "(pip install -e '.[train]').",
    }
