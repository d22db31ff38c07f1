"""`tunix-rt datasets ...`: build, list, show and inspect datasets."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tunix_rt.cli.common import domain_errors, err, fail, run, run_read
from tunix_rt.datasets.schema import DEFAULT_LIMIT, NAME_RULE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

datasets_app = typer.Typer(help="Build, list and show datasets.", no_args_is_help=True)


_TIME = "ISO date or time (UTC unless it gives an offset)"


def _pairs(values: list[str], option: str) -> dict[str, str]:
    from tunix_rt.datasets import options
    from tunix_rt.errors import InvalidInputError

    try:
        return options.pairs(values, field=option)
    except InvalidInputError as exc:
        raise fail(f"{option} {exc}") from None


def _evaluation_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise fail(f"--pairs-from-evaluation: {text!r} is not an evaluation id (UUID)") from None


@datasets_app.command("build")
def build(
    name: Annotated[str, typer.Argument(help=NAME_RULE)],
    version: Annotated[str, typer.Argument(help=NAME_RULE)],
    source: Annotated[str | None, typer.Option(help="meta.source equals")] = None,
    meta: Annotated[list[str], typer.Option(help="meta.KEY equals VALUE (repeatable)")] = [],  # noqa: B006
    prompt_contains: Annotated[str | None, typer.Option(help="prompt contains")] = None,
    created_after: Annotated[str | None, typer.Option(help=f"{_TIME}, inclusive")] = None,
    created_before: Annotated[str | None, typer.Option(help=f"{_TIME}, exclusive")] = None,
    min_score: Annotated[str | None, typer.Option(help="CRITERIA=SCORE, e.g. baseline=40")] = None,
    limit: Annotated[
        int | None, typer.Option(help=f"At most this many traces [default: {DEFAULT_LIMIT}]")
    ] = None,
    random: Annotated[
        bool, typer.Option("--random", help="Random selection (needs --seed)")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for --random and --split")] = None,
    dedupe: Annotated[bool, typer.Option(help="Drop repeated prompt + final answer")] = False,
    split: Annotated[list[str], typer.Option(help="NAME=FRACTION, e.g. train=0.9")] = [],  # noqa: B006
    allow_eval_prompts: Annotated[
        bool, typer.Option(help="Keep traces whose prompt is an eval set item's")
    ] = False,
    pairs_from_evaluation: Annotated[
        str | None,
        typer.Option(
            metavar="EVALUATION_ID",
            help="Only the traces this evaluation (of a dataset) scored; the preference export "
            "rejects the model's wrong completions",
        ),
    ] = None,
    only_wrong: Annotated[
        bool,
        typer.Option(help="With --pairs-from-evaluation: only the traces the model got wrong"),
    ] = False,
) -> None:
    """Build an immutable dataset NAME-VERSION from the stored traces."""
    from pydantic import ValidationError

    from tunix_rt.datasets import builder, options
    from tunix_rt.datasets.schema import DatasetBuildRequest, DatasetFilters
    from tunix_rt.errors import describe_validation_error
    from tunix_rt.settings import get_settings

    pairs = None
    if pairs_from_evaluation is not None:
        evaluation_id = _evaluation_id(pairs_from_evaluation)
        pairs = {"evaluation_id": evaluation_id, "only_wrong": only_wrong}
    elif only_wrong:
        raise fail("--only-wrong: needs --pairs-from-evaluation")
    score = None
    if min_score is not None:
        criteria, at_least = next(iter(_pairs([min_score], "--min-score").items()))
        score = {"criteria": criteria, "score": at_least}
    try:
        filters = DatasetFilters(
            source=source,
            meta={k: options.meta_value(v) for k, v in _pairs(meta, "--meta").items()},
            prompt_contains=prompt_contains,
            created_after=created_after,
            created_before=created_before,
            min_score=score,
        )
        request = DatasetBuildRequest(
            dataset_name=name,
            dataset_version=version,
            filters=filters,
            limit=DEFAULT_LIMIT if limit is None else limit,
            selection_strategy="random" if random else "latest",
            seed=seed,
            dedupe=dedupe,
            splits={k: float(v) for k, v in _pairs(split, "--split").items()} or None,
            allow_eval_prompts=allow_eval_prompts,
            pairs_from_evaluation=pairs,
        )
    except (ValidationError, ValueError) as exc:
        message = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise fail(message) from None
    data_dir = get_settings().data_dir
    built = run(lambda engine: builder.build_dataset(engine, data_dir, request))
    held_out = (
        f" ({built.eval_prompts_excluded:,} with an eval set's prompt left out)"
        if built.eval_prompts_excluded
        else ""
    )
    taken = f"{built.trace_count:,} traces"
    if limit is None and built.matching_count > built.trace_count:
        taken = (
            f"{built.trace_count:,} of {built.matching_count:,} matching traces "
            "(--limit to take more)"
        )
    wrong = (
        ""
        if built.evaluation_wrong is None
        else f"; the evaluation got {built.evaluation_wrong:,} of them wrong"
    )
    err.print(f"built {built.dataset_key}: {taken}{held_out}{wrong}", highlight=False)
    sys.stdout.write(built.model_dump_json(indent=2) + "\n")


@datasets_app.command("list")
def list_() -> None:
    """Every dataset, newest first."""
    from tunix_rt.datasets import store

    lines = ["key\ttrace_count\tcreated_at\texport_sha256"]
    lines += [
        f"{d.dataset_key}\t{d.trace_count}\t{d.created_at.isoformat()}\t{d.export_sha256}"
        for d in run_read(store.list_datasets)
    ]
    sys.stdout.write("\n".join(lines) + "\n")


@datasets_app.command("show")
def show(key: Annotated[str, typer.Argument(help="NAME-VERSION")]) -> None:
    """Print a dataset's manifest (with stats) as JSON."""
    from tunix_rt.datasets import store

    manifest = run_read(lambda conn: store.get_manifest(conn, key))
    sys.stdout.write(manifest.model_dump_json(indent=2) + "\n")


@datasets_app.command("inspect")
def inspect(
    key: Annotated[str, typer.Argument(help="NAME-VERSION")],
    tokenizer: Annotated[Path, typer.Option(help="SentencePiece .model, e.g. a run's tokenizer")],
    index: Annotated[int, typer.Option(min=0, help="Example number (0-based, manifest order)")] = 0,
) -> None:
    """Show an example's tokens as training sees them: `+` marks tokens the loss is computed on."""
    from tunix_rt.datasets import service
    from tunix_rt.datasets.export import record_at
    from tunix_rt.runs.availability import TRAIN_EXTRA_HINT

    async def main(engine: AsyncEngine) -> dict[str, Any] | None:
        async with engine.connect() as conn:
            await service.manifest_counts(conn, key)  # NotFoundError for an unknown key
            return await record_at(conn, key, "tunix_sft", index)

    record = run(main)
    if record is None:
        raise fail(f"dataset {key} has no example {index}")
    try:
        from tunix_rt.training.data import SftRecord, inspect_record
        from tunix_rt.training.tokenizer import load_tokenizer

        with domain_errors():
            views = inspect_record(
                SftRecord(record["prompt"], record["completion"]), load_tokenizer(tokenizer)
            )
    except ImportError:
        raise fail(f"inspecting tokens needs the training extra: {TRAIN_EXTRA_HINT}") from None
    lines = [f"{'+' if view.trained else ' '} {view.token_id:>6}  {view.piece!r}" for view in views]
    trained = sum(view.trained for view in views)
    sys.stdout.write("\n".join(lines) + "\n")
    err.print(
        f"{len(views)} tokens; {trained} trained on (+: the model turn, through <end_of_turn>)",
        highlight=False,
    )
