"""`tunix-rt evalsets ...`: list and export the built-in, versioned eval sets."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tunix_rt.cli.common import atomic_output, domain_errors, fail, say

evalsets_app = typer.Typer(help="Built-in eval sets (fixed, versioned).", no_args_is_help=True)


@evalsets_app.command("list")
def evalsets_list() -> None:
    """Every eval set: name, version, item count and description (tab-separated)."""
    from tunix_rt.evals.evalsets import EVAL_SETS

    lines = ["name\tversion\titems\tdescription"]
    lines += [
        f"{spec.name}\t{spec.version}\t{spec.item_count}\t{spec.description}"
        for spec in EVAL_SETS.values()
    ]
    sys.stdout.write("\n".join(lines) + "\n")


@evalsets_app.command("export")
def evalsets_export(
    name: Annotated[str, typer.Argument(help="Eval set name, e.g. arithmetic-v1.")],
    output: Annotated[str, typer.Option("-o", "--output", help="JSONL file; - for stdout.")],
) -> None:
    """Write the items as JSON Lines that `traces import` reads.

    The file is the set's canonical form: its sha256 is the digest pinned for the set.
    """
    from tunix_rt.evals.evalsets import get_eval_set, write_eval_set

    with domain_errors():
        spec = get_eval_set(name)
    try:
        with atomic_output(output) as out:
            written, sha256 = write_eval_set(out, spec.name)
    except OSError as exc:
        raise fail(f"{output}: {exc.strerror or exc}") from None
    where = "stdout" if output == "-" else output
    say(f"exported {written:,} items of {spec.name} to {where} (sha256 {sha256})")
