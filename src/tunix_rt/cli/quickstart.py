"""`tunix-rt quickstart arithmetic`: traces → dataset → training → evaluation, in one command."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tunix_rt import quickstart
from tunix_rt.cli.common import domain_errors, err, run

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tunix_rt.evals.schema import EvaluationRecord

app = typer.Typer()


@app.command("quickstart")
def quickstart_(
    recipe: Annotated[Literal["arithmetic"], typer.Argument(help="The recipe to run")],
    steps: Annotated[int, typer.Option(min=1, help="Training steps")] = quickstart.Recipe.steps,
    traces: Annotated[
        int, typer.Option(min=40, max=1_000_000, help="Training traces to generate")
    ] = quickstart.Recipe.traces,
    max_minutes: Annotated[
        float, typer.Option(min=0.1, help="Stop training after this long, whatever the step")
    ] = quickstart.Recipe.max_minutes,
    fail_under: Annotated[
        float | None, typer.Option(help="Exit 3 when the trained accuracy is below this")
    ] = None,
) -> None:
    """Generate arithmetic traces, build a dataset, train the tiny model on this machine, and
    evaluate it and its untrained start on held-out two- and three-digit additions and
    subtractions (arithmetic-add-sub-v1); prints the scorecard. Ctrl-C cancels."""
    from tunix_rt.cli.evals import EXIT_GATE, finish, run_foreground
    from tunix_rt.cli.runs import train_foreground
    from tunix_rt.runs.availability import require_training_stack
    from tunix_rt.settings import get_settings

    del recipe  # one recipe so far
    with domain_errors():
        require_training_stack()
    plan = quickstart.Recipe(steps=steps, traces=traces, max_minutes=max_minutes)
    started = time.perf_counter()

    from tunix_rt.datasets.builder import build_dataset

    async def main(engine: AsyncEngine) -> tuple[str, EvaluationRecord | None]:
        added = await quickstart.store_traces(engine, plan)
        err.print(f"traces: {added:,} added ({quickstart.COLLECTION})", highlight=False)
        if not await quickstart.dataset_exists(engine, plan.dataset_key):
            built = await build_dataset(
                engine, get_settings().data_dir, quickstart.dataset_request(plan)
            )
            err.print(f"dataset {built.dataset_key}: {built.trace_count:,} traces", highlight=False)
        manifest = quickstart.manifest(plan, output_dir="model")
        run_id, status = await train_foreground(engine, manifest)
        if status != "succeeded":
            return status, None
        return status, await run_foreground(engine, run_id, quickstart.evaluation())

    status, record = run(main)
    if record is None:
        raise typer.Exit(130 if status == "cancelled" else 1)
    finish(record, json_output=False)
    seconds = time.perf_counter() - started
    err.print(f"quickstart: {seconds / 60:.1f} min in all", highlight=False)
    trained = record.trained
    if fail_under is not None and trained is not None and trained.accuracy < fail_under:
        err.print(f"gate: accuracy {trained.accuracy:.4f} is under {fail_under:.4f}")
        raise typer.Exit(EXIT_GATE)
