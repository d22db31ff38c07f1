"""`tunix-rt train` and `tunix-rt runs ...`."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunix_rt.cli.common import domain_errors, err, fail, parse_id, run, run_read

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tunix_rt.runs.manifest import RunManifest
    from tunix_rt.training.runner import StepMetrics

app = typer.Typer()
runs_app = typer.Typer(
    help="List, show, follow, cancel and resume training runs.", no_args_is_help=True
)


@app.command()
def train(
    manifest_file: Annotated[Path, typer.Argument(help="run.yaml (from `tunix-rt manifest`)")],
) -> None:
    """Train in the foreground, recorded in the run registry. Ctrl-C cancels cleanly."""
    from tunix_rt.runs import service
    from tunix_rt.runs.availability import require_training_stack

    try:
        text = manifest_file.read_text()
    except OSError as exc:
        raise fail(f"{manifest_file}: {exc.strerror}") from None
    with domain_errors():
        manifest = service.parse_manifest(text)
        require_training_stack()

    async def main(engine: AsyncEngine) -> tuple[uuid.UUID, str]:
        return await train_foreground(engine, manifest)

    _ended(*run(main))


def _ended(run_id: uuid.UUID, status: str) -> None:
    """Exit as a foreground run ended: 0 succeeded, 1 failed, 130 cancelled."""
    if status == "failed":  # train_foreground said why, and the run's record is stored
        # Not through the interpreter's teardown: after a failed write (a full disk) the
        # checkpoint library's native threads can crash it, turning exit 1 into a segfault.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    err.print(f"run {run_id} {status}", highlight=False)
    if status == "cancelled":
        raise typer.Exit(130)


async def train_foreground(
    engine: AsyncEngine, manifest: RunManifest, *, resuming: uuid.UUID | None = None
) -> tuple[uuid.UUID, str]:
    """Train `manifest` in this process with a progress bar (Ctrl-C cancels), recorded in the
    run registry like a queued run (`resuming`: that run, already marked running here, whose
    manifest it is); then its manifest's evaluation, if any, in the foreground. A run that
    failed is one `error:` line with its stored reason."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tunix_rt.runs.worker import execute_here, train_here
    from tunix_rt.settings import get_settings

    columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()]
    # Bound to the terminal now: while the run trains, sys.stderr is its log (train_here).
    console = Console(file=sys.stderr)
    progress = Progress(*columns, console=console, transient=False)
    task = progress.add_task("preparing", total=manifest.training.max_steps)
    with ExitStack() as shown:

        def on_start(run_id: uuid.UUID, folder: Path) -> None:
            err.print(f"run {run_id}: {folder}", highlight=False)
            shown.enter_context(progress)

        def on_step(metrics: StepMetrics) -> None:
            progress.update(task, completed=metrics.step, description=metrics.summary())

        if resuming is None:
            run_id, status = await train_here(
                engine, get_settings(), manifest, on_start=on_start, on_step=on_step
            )
        else:
            run_id = resuming
            status = await execute_here(engine, get_settings(), run_id, on_start, on_step)
    if status == "failed":
        from tunix_rt.runs import store

        async with engine.connect() as conn:
            record = await store.get_run(conn, run_id)
        reason = (record.error or "").strip().splitlines() or ["no reason recorded"]
        fail(f"run {run_id} failed: {reason[0]}")  # printed; the caller exits 1
    if status == "succeeded" and manifest.evaluation is not None:
        from tunix_rt.cli.evals import finish, run_foreground

        finish(await run_foreground(engine, run_id, manifest.evaluation), json_output=False)
    return run_id, status


@runs_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded, failed, cancelled")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="dataset key")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """Runs, newest first."""
    from tunix_rt.runs import store

    items, _ = run_read(
        lambda conn: store.list_runs(conn, status=status, dataset_key=dataset, limit=limit)
    )
    lines = ["id\tstatus\tmode\tdataset\tcreated_at"]
    lines += [
        f"{r.id}\t{r.status}\t{r.mode}\t{r.dataset_key}\t{r.created_at.isoformat()}" for r in items
    ]
    sys.stdout.write("\n".join(lines) + "\n")


@runs_app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="Run id")]) -> None:
    """A run's record as JSON: status, manifest, error, result."""
    from tunix_rt.runs import store

    parsed = parse_id(run_id, "run")

    record = run_read(lambda conn: store.get_run(conn, parsed))
    sys.stdout.write(record.model_dump_json(indent=2) + "\n")


@runs_app.command("logs")
def logs_(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends")
    ] = False,
    tail: Annotated[int, typer.Option(min=1)] = 200,
) -> None:
    """Print a run's log."""
    from tunix_rt.runs import logs, service
    from tunix_rt.settings import get_settings

    parsed = parse_id(run_id, "run")

    async def main(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            path = await service.run_log_path(conn, get_settings().runs_dir, parsed)
        if not follow:
            sys.stdout.write(logs.tail(path, tail))
            return
        async for chunk in logs.follow(engine, parsed, path, tail):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    run(main)


@runs_app.command("rollouts")
def rollouts(
    run_id: Annotated[str, typer.Argument(help="Run id (a GRPO run)")],
    step: Annotated[
        int | None, typer.Option(min=1, help="Default: the latest step that stored some")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="The API's JSON")] = False,
) -> None:
    """A GRPO run's stored rollouts: prompt, completion and rewards."""
    from tunix_rt.runs import service
    from tunix_rt.settings import get_settings

    parsed = parse_id(run_id, "run")
    sample = run_read(
        lambda conn: service.run_rollouts(conn, get_settings().runs_dir, parsed, step)
    )
    if json_output:
        sys.stdout.write(sample.model_dump_json(indent=2) + "\n")
        return
    if sample.step is None:
        sys.stdout.write(f"run {parsed} stored no rollouts\n")
        return
    steps = ", ".join(map(str, sample.steps))
    out = [f"run {parsed}: step {sample.step} (steps with rollouts: {steps})"]
    for rollout in sample.data:
        rewards = " ".join(f"{name} {value:.2f}" for name, value in rollout.rewards.items())
        out += [
            "",
            f"group {rollout.group} · trace {rollout.trace_id} · expected {rollout.expected} · "
            f"reward {rollout.reward:.3f} ({rewards})",
            rollout.completion.rstrip("\n"),
        ]
    sys.stdout.write("\n".join(out) + "\n")


@runs_app.command("cancel")
def cancel(
    run_id: Annotated[str, typer.Argument(help="Run id")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to stop")] = 15.0,
) -> None:
    """Cancel a queued or running run."""
    from tunix_rt.runs import jobs, store
    from tunix_rt.runs.schema import FINISHED

    parsed = parse_id(run_id, "run")

    async def main(engine: AsyncEngine) -> str:
        after = await jobs.request_cancel(engine, "run", parsed)
        deadline = time.monotonic() + wait
        while after not in FINISHED and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            async with engine.connect() as conn:
                after = (await store.get_run(conn, parsed)).status
        return after

    status = run(main)
    err.print(f"run {parsed}: {status if status in FINISHED else 'cancelling'}", highlight=False)


@runs_app.command()
def resume(run_id: Annotated[str, typer.Argument(help="Run id")]) -> None:
    """Resume a failed or cancelled run in the foreground, in its own folder: from its latest
    checkpoint (from the start when it saved none). Ctrl-C cancels cleanly; exit codes as
    `tunix-rt train`."""
    from tunix_rt.runs import service, store
    from tunix_rt.settings import get_settings

    parsed = parse_id(run_id, "run")

    async def main(engine: AsyncEngine) -> tuple[uuid.UUID, str]:
        resumed = await service.resume_run(engine, get_settings(), parsed, pid=os.getpid())
        async with engine.connect() as conn:
            manifest = service.stored_manifest(await store.get_run(conn, parsed))
        start = "the start" if resumed.from_step is None else f"step {resumed.from_step}"
        err.print(f"run {parsed}: resumed from {start}", highlight=False)
        return await train_foreground(engine, manifest, resuming=parsed)

    _ended(*run(main))
