"""`tunix-rt eval` (a foreground evaluation with a regression gate) and `tunix-rt evals ...`."""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunix_rt.cli.common import err, fail, option_name, parse_id, run, run_read
from tunix_rt.cli.scorecards import comparison_text, leaderboard_text, scorecard_text
from tunix_rt.evals.schema import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_NEW_TOKENS,
    EvaluationOptions,
    EvaluationRecord,
    SortKey,
    TracesStored,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

app = typer.Typer()
evals_app = typer.Typer(help="List, show and compare evaluations.", no_args_is_help=True)

EXIT_GATE = 3


def options_from_cli(**values: Any) -> EvaluationOptions:
    """EvaluationOptions from the command's options; a bad combination names the option."""
    from pydantic import ValidationError

    from tunix_rt.errors import describe_validation_error

    try:
        return EvaluationOptions.model_validate(
            {key: value for key, value in values.items() if value is not None}
        )
    except ValidationError as exc:
        raise fail(describe_validation_error(exc, name_of=option_name)) from None


async def run_foreground(
    engine: AsyncEngine, run_id: uuid.UUID, options: EvaluationOptions
) -> EvaluationRecord:
    """Evaluate in this process with a progress bar (Ctrl-C cancels) and return the record."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from tunix_rt.evals.job import Progress as Done
    from tunix_rt.evals.job import evaluate_here
    from tunix_rt.settings import get_settings

    columns: list[Any] = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(done: Done) -> None:
            if done.subject not in tasks:
                tasks[done.subject] = progress.add_task(done.subject, total=done.total)
            rate = done.done / max(done.seconds, 1e-9)
            accuracy = done.correct / max(done.samples, 1)
            progress.update(
                tasks[done.subject],
                completed=done.done,
                description=f"{done.subject}: {rate:,.1f} items/s, accuracy {accuracy:.3f}",
            )

        return await evaluate_here(
            engine,
            get_settings(),
            run_id,
            options,
            on_start=lambda accepted: err.print(accepted.message, highlight=False),
            on_progress=on_progress,
        )


@app.command("eval")
def eval_(
    run_id: Annotated[str, typer.Argument(help="The run to evaluate")],
    evalset: Annotated[str | None, typer.Option(help="A built-in eval set")] = None,
    dataset_key: Annotated[
        str | None, typer.Option("--dataset", help="Or a dataset with meta.expected_answer")
    ] = None,
    split: Annotated[str | None, typer.Option(help="Only this split of --dataset")] = None,
    base: Annotated[bool, typer.Option(help="Also evaluate the run's starting point")] = False,
    limit: Annotated[int | None, typer.Option(help="The first N items")] = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    temperature: Annotated[float, typer.Option(help="0 = greedy")] = 0.0,
    top_p: float | None = None,
    top_k: int | None = None,
    num_samples: Annotated[int, typer.Option(help="Samples per item (needs temperature)")] = 1,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    group_by: Annotated[
        list[str] | None, typer.Option(help="Meta key of the breakdown (repeatable)")
    ] = None,
    store_traces: Annotated[
        bool, typer.Option(help="Store the completions as traces (meta.source model)")
    ] = False,
    fail_under: Annotated[
        float | None, typer.Option(help="Exit 3 when accuracy is below this")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Exit 3 when accuracy drops from this evaluation")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Allowed drop from --baseline")] = 0.0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the record as JSON")] = False,
) -> None:
    """Evaluate a run in the foreground and print its scorecard. Ctrl-C cancels.

    Exit codes: 0 passed, 1 failed, 3 a gate (--fail-under, --baseline) fell short, 130
    cancelled.
    """
    from tunix_rt.evals import service, store

    parsed = parse_id(run_id, "run")
    baseline_id = parse_id(baseline, "evaluation") if baseline is not None else None
    options = options_from_cli(
        evalset=evalset,
        dataset_key=dataset_key,
        split=split,
        base=base,
        limit=limit,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        num_samples=num_samples,
        seed=seed,
        batch_size=batch_size,
        group_by=group_by or None,
    )

    async def main(
        engine: AsyncEngine,
    ) -> tuple[EvaluationRecord, EvaluationRecord | None, TracesStored | None]:
        reference = None
        if baseline_id is not None:
            async with engine.connect() as conn:
                reference = await store.get_evaluation(conn, baseline_id)
        record = await run_foreground(engine, parsed, options)
        stored = None
        if store_traces and record.status == "succeeded":
            stored = await service.store_outputs(engine, record.id)
        return record, reference, stored

    record, reference, stored = run(main)
    finish(record, json_output=json_output)
    if stored is not None:
        err.print(
            f"stored {stored.created_count} traces (meta.source model, evaluation {record.id}); "
            f"{stored.skipped} completions without steps or answer were left out",
            highlight=False,
        )
    failures = service.gate(
        record,
        fail_under=fail_under,
        baseline=reference,
        max_drop=max_drop if reference is not None else None,
    )
    for failure in failures:
        err.print(f"gate: {failure}", highlight=False)
    if failures:
        raise typer.Exit(EXIT_GATE)


def finish(record: EvaluationRecord, *, json_output: bool) -> None:
    """Print the scorecard (or the record as JSON); exit non-zero unless it succeeded."""
    if json_output:
        sys.stdout.write(record.model_dump_json(indent=2) + "\n")
    elif record.trained is not None:
        sys.stdout.write(scorecard_text(record))
    if record.status == "cancelled":
        err.print(f"evaluation {record.id} cancelled", highlight=False)
        raise typer.Exit(130)
    if record.status != "succeeded":
        raise fail(f"evaluation {record.id} {record.status}: {record.error}")


@evals_app.command("list")
def evals_list(
    sort: Annotated[SortKey, typer.Option(help="accuracy, delta or date")] = "accuracy",
    evalset: Annotated[str | None, typer.Option(help="Only this eval set")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset")] = None,
    model_id: Annotated[str | None, typer.Option(help="Only this model id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
) -> None:
    """The leaderboard (tab-separated)."""
    from tunix_rt.evals import store

    page = run_read(
        lambda conn: store.leaderboard(
            conn, sort=sort, evalset=evalset, dataset_key=dataset, model_id=model_id, limit=limit
        )
    )
    sys.stdout.write(leaderboard_text(page.data))


@evals_app.command("show")
def evals_show(
    evaluation_id: Annotated[str, typer.Argument(help="Evaluation id")],
    json_output: Annotated[bool, typer.Option("--json", help="The record as JSON")] = False,
) -> None:
    """An evaluation's scorecard: trained, base and trained - base, by group."""
    from tunix_rt.evals import store

    parsed = parse_id(evaluation_id, "evaluation")
    record = run_read(lambda conn: store.get_evaluation(conn, parsed))
    if json_output or record.trained is None:
        sys.stdout.write(record.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(scorecard_text(record))


@evals_app.command("compare")
def evals_compare(
    a: Annotated[str, typer.Argument(help="Evaluation id")],
    b: Annotated[str, typer.Argument(help="Evaluation id (same target)")],
    limit: Annotated[int, typer.Option(min=1, max=500, help="Items to list")] = 20,
) -> None:
    """Two evaluations item by item: right in a only, b only, both, neither."""
    from tunix_rt.evals import store

    first, second = parse_id(a, "evaluation"), parse_id(b, "evaluation")
    comparison = run_read(lambda conn: store.compare(conn, first, second, limit=limit))
    sys.stdout.write(comparison_text(comparison))
