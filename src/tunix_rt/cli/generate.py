"""`tunix-rt generate ...`: make traces with a built-in generator, store them or write JSONL."""

from __future__ import annotations

from typing import Annotated

import typer

from tunix_rt.cli.common import atomic_output, err, fail, progress_bar, run
from tunix_rt.errors import TunixRTError
from tunix_rt.generators import DEFAULT_SEED, GENERATORS, get_generator
from tunix_rt.generators import arithmetic as arith
from tunix_rt.generators import comparison_chain as chain

generate_app = typer.Typer(
    help=(
        "Generate traces with a built-in generator and store them (or write them with -o). "
        "The same --seed and params always give the same traces."
    ),
    no_args_is_help=True,
)

Count = Annotated[int, typer.Option("--count", "-n", help="How many traces to generate.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed; the same seed gives the same traces.")]
Output = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        help="Write JSONL (what `traces import` reads) instead of storing; - for stdout.",
    ),
]


def _generate(name: str, count: int, seed: int, output: str | None, **params: object) -> None:
    """Check everything first (one-line error, exit 1), then store or write with progress."""
    from tunix_rt.generators.service import generate_and_store, write_generated

    try:
        get_generator(name).generate(count, seed, **params)
    except TunixRTError as exc:
        raise fail(str(exc)) from None

    if output is None:
        with progress_bar(err, None) as progress:
            task = progress.add_task(f"storing {name}", total=count)
            ids = run(
                lambda engine: generate_and_store(
                    engine,
                    name,
                    count,
                    seed,
                    params=params,
                    on_progress=lambda n: progress.update(task, completed=n),
                )
            )
        err.print(
            f"stored {len(ids):,} {name} traces (seed {seed})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        return

    try:
        with atomic_output(output) as out, progress_bar(err, None) as progress:
            task = progress.add_task(f"writing {name}", total=count)
            written = write_generated(
                out,
                name,
                count,
                seed,
                params=params,
                on_progress=lambda n: progress.update(task, completed=n),
            )
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from None
    where = "stdout" if output == "-" else output
    err.print(
        f"wrote {written:,} {name} traces (seed {seed}) to {where}; nothing stored",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def _help(name: str) -> str:
    return f"{GENERATORS[name].description} meta.source: {GENERATORS[name].source}."


@generate_app.command("high-card-duel", help=_help("high-card-duel"))
def high_card_duel(
    count: Count,
    seed: Seed = DEFAULT_SEED,
    output: Output = None,
) -> None:
    _generate("high-card-duel", count, seed, output)


@generate_app.command("arithmetic", help=_help("arithmetic"))
def arithmetic(
    count: Count,
    seed: Seed = DEFAULT_SEED,
    digits: Annotated[
        int, typer.Option(help=f"Digits per operand, {arith.MIN_DIGITS}-{arith.MAX_DIGITS}.")
    ] = arith.DEFAULT_DIGITS,
    operation: Annotated[
        str, typer.Option(help="add, sub, mul, or mixed (chosen per item).")
    ] = arith.DEFAULT_OPERATION,
    output: Output = None,
) -> None:
    _generate("arithmetic", count, seed, output, digits=digits, operation=operation)


@generate_app.command("comparison-chain", help=_help("comparison-chain"))
def comparison_chain(
    count: Count,
    seed: Seed = DEFAULT_SEED,
    people: Annotated[
        int, typer.Option(help=f"People in the chain, {chain.MIN_PEOPLE}-{chain.MAX_PEOPLE}.")
    ] = chain.DEFAULT_PEOPLE,
    question: Annotated[
        str, typer.Option(help="most, least, or mixed (chosen per item).")
    ] = chain.DEFAULT_QUESTION,
    output: Output = None,
) -> None:
    _generate("comparison-chain", count, seed, output, people=people, question=question)
