"""`tunix-rt quickstart arithmetic`: traces → dataset → training → evaluation, in one command;
`tunix-rt quickstart grpo`: GRPO from that run → evaluation against it."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tunix_rt import quickstart
from tunix_rt.cli.common import domain_errors, err, fail, parse_id, run

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tunix_rt.evals.schema import EvaluationRecord

app = typer.Typer()


_STEPS = (
    f"[default: {quickstart.Recipe.steps} for arithmetic, {quickstart.GrpoRecipe.steps} for grpo]"
)
_MINUTES = (
    f"[default: {quickstart.Recipe.max_minutes} for arithmetic, "
    f"{quickstart.GrpoRecipe.max_minutes} for grpo]"
)


@app.command("quickstart")
def quickstart_(
    recipe: Annotated[Literal["arithmetic", "grpo"], typer.Argument(help="The recipe to run")],
    steps: Annotated[int | None, typer.Option(min=1, help=f"Training steps {_STEPS}")] = None,
    traces: Annotated[
        int | None,
        typer.Option(
            min=40,
            max=1_000_000,
            help="Problems to generate: arithmetic's training traces [default: "
            f"{quickstart.Recipe.traces}], grpo's prompts "
            f"[default: {quickstart.GrpoRecipe.prompts}]",
        ),
    ] = None,
    max_minutes: Annotated[
        float | None,
        typer.Option(min=0.1, help=f"Stop training after this long, whatever the step {_MINUTES}"),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(help="grpo: the run to start from [default: the newest arithmetic one]"),
    ] = None,
    fail_under: Annotated[
        float | None, typer.Option(help="Exit 3 when the trained accuracy is below this")
    ] = None,
) -> None:
    """`arithmetic`: generate arithmetic traces, build a dataset, train the tiny model on
    this machine, and evaluate it and its untrained start on held-out two- and
    three-digit additions and subtractions (arithmetic-add-sub-v1). `grpo`: train that
    run further with GRPO on fresh problems, rewarded by their known answers, and
    evaluate it against the run it started from on arithmetic-add-sub-2k-v1. Prints the
    scorecard. Ctrl-C cancels."""
    from tunix_rt.cli.evals import EXIT_GATE, finish

    with domain_errors():
        from tunix_rt.runs.availability import require_training_stack

        require_training_stack()
    started = time.perf_counter()
    if recipe == "grpo":
        parsed = None if from_run is None else parse_id(from_run, "run")
        record = _grpo(steps, traces, max_minutes, parsed)
    else:
        if from_run is not None:
            raise fail("--from-run: only the grpo recipe starts from a run")
        record = _arithmetic(steps, traces, max_minutes)
    finish(record, json_output=False)
    seconds = time.perf_counter() - started
    err.print(f"quickstart: {seconds / 60:.1f} min in all", highlight=False)
    trained = record.trained
    if fail_under is not None and trained is not None and trained.accuracy < fail_under:
        err.print(f"gate: accuracy {trained.accuracy:.4f} is under {fail_under:.4f}")
        raise typer.Exit(EXIT_GATE)


def _arithmetic(
    steps: int | None, traces: int | None, max_minutes: float | None
) -> EvaluationRecord:
    from tunix_rt.cli.evals import run_foreground
    from tunix_rt.cli.runs import train_foreground

    defaults = quickstart.Recipe()
    plan = quickstart.Recipe(
        steps=steps or defaults.steps,
        traces=traces or defaults.traces,
        max_minutes=max_minutes or defaults.max_minutes,
    )

    async def main(engine: AsyncEngine) -> tuple[str, EvaluationRecord | None]:
        await _store(engine, plan.mix)
        manifest = quickstart.manifest(plan, output_dir="model")
        run_id, status = await train_foreground(engine, manifest)
        if status != "succeeded":
            return status, None
        return status, await run_foreground(engine, run_id, quickstart.evaluation())

    return _finished(run(main))


def _grpo(
    steps: int | None, prompts: int | None, max_minutes: float | None, from_run: uuid.UUID | None
) -> EvaluationRecord:
    from tunix_rt.cli.evals import run_foreground
    from tunix_rt.cli.runs import train_foreground
    from tunix_rt.runs import store

    defaults = quickstart.GrpoRecipe()
    plan = quickstart.GrpoRecipe(
        prompts=prompts or defaults.prompts,
        steps=steps or defaults.steps,
        max_minutes=max_minutes or defaults.max_minutes,
    )

    async def main(engine: AsyncEngine) -> tuple[str, EvaluationRecord | None]:
        start = from_run
        if start is None:
            start = await quickstart.newest_run_to_start_from(engine)
            if start is None:
                raise fail(
                    "--from-run: no succeeded arithmetic quickstart run to start from "
                    "(run `tunix-rt quickstart arithmetic` first)"
                )
        else:
            async with engine.connect() as conn:
                await store.require_run(conn, start)  # a run that does not exist: 404
        await _store(engine, plan.mix)
        err.print(f"grpo from run {start} on {plan.mix.dataset_key}", highlight=False)
        manifest = quickstart.grpo_manifest(plan, start, output_dir="model")
        run_id, status = await train_foreground(engine, manifest)
        if status != "succeeded":
            return status, None
        evaluation = quickstart.evaluation(quickstart.GRPO_EVAL_SET)
        return status, await run_foreground(engine, run_id, evaluation)

    return _finished(run(main))


async def _store(engine: AsyncEngine, mix: quickstart.TraceMix) -> None:
    from tunix_rt.settings import get_settings

    done = await quickstart.prepare(engine, get_settings().data_dir, mix)
    err.print(f"traces: {done.traces_added:,} added ({mix.collection})", highlight=False)
    if done.dataset_traces is not None:
        err.print(f"dataset {mix.dataset_key}: {done.dataset_traces:,} traces", highlight=False)


def _finished(outcome: tuple[str, EvaluationRecord | None]) -> EvaluationRecord:
    status, record = outcome
    if record is None:
        raise typer.Exit(130 if status == "cancelled" else 1)
    return record
