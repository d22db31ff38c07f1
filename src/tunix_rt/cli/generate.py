"""`tunix-rt generate ...`: make traces with a built-in generator, store them or write JSONL.

One command per registered generator, built from its `ParamSpec`s: a new generator needs no
code here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated

import typer

from tunix_rt.cli.common import atomic_output, domain_errors, err, fail, progress_bar, run, say
from tunix_rt.generators import DEFAULT_SEED, GENERATORS, GeneratorSpec, ParamSpec, generate

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


def _generate(
    name: str, count: int, seed: int, output: str | None, params: Mapping[str, object]
) -> None:
    """Check everything first (one-line error, exit 1), then store or write with progress."""
    from tunix_rt.generators.service import store_traces, write_traces

    with domain_errors():
        traces = generate(name, count, seed, **params)

    if output is None:
        with progress_bar(err, None) as progress:
            task = progress.add_task(f"storing {name}", total=count)
            ids = run(
                lambda engine: store_traces(
                    engine, traces, on_progress=lambda n: progress.update(task, completed=n)
                )
            )
        say(f"stored {len(ids):,} {name} traces (seed {seed})")
        return

    try:
        with atomic_output(output) as out, progress_bar(err, None) as progress:
            task = progress.add_task(f"writing {name}", total=count)
            written = write_traces(
                out, traces, on_progress=lambda n: progress.update(task, completed=n)
            )
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from None
    where = "stdout" if output == "-" else output
    say(f"wrote {written:,} {name} traces (seed {seed}) to {where}; nothing stored")


def _option(param: ParamSpec) -> inspect.Parameter:
    """`--<name>` typed, defaulted and explained by the generator's own `ParamSpec`.

    A string param stays a plain string (its choices show as the metavar), so a bad value is
    the generator's own one-line error rather than a usage error.
    """
    help_text = param.description
    if param.minimum is not None and param.maximum is not None:
        help_text = f"{help_text} {param.minimum}-{param.maximum}."
    option = typer.Option(
        f"--{param.name.replace('_', '-')}",
        help=help_text,
        metavar=f"[{'|'.join(param.choices)}]" if param.choices else None,
    )
    return inspect.Parameter(
        param.name,  # an identifier: Typer passes the value back under this name
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[param.kind, option],
        default=param.default,
    )


def _command(spec: GeneratorSpec) -> Callable[..., None]:
    """`tunix-rt generate <spec.name> --count N [--seed S] [--<param> V ...] [-o FILE]`."""

    def command(count: int, seed: int, output: str | None, **params: object) -> None:
        _generate(spec.name, count, seed, output, params)

    keyword = inspect.Parameter.KEYWORD_ONLY
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("count", keyword, annotation=Count),
            inspect.Parameter("seed", keyword, annotation=Seed, default=DEFAULT_SEED),
            *(_option(param) for param in spec.params),
            inspect.Parameter("output", keyword, annotation=Output, default=None),
        ]
    )
    return command


for _spec in GENERATORS.values():
    generate_app.command(_spec.name, help=f"{_spec.description} meta.source: {_spec.source}.")(
        _command(_spec)
    )
