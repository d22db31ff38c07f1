"""`tunix-rt manifest`: a Tunix run manifest (YAML) for a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunix_rt.cli.common import atomic_output, err, fail, parse_id, run_read
from tunix_rt.runs.manifest import GRPO_TRAINING_DEFAULTS, RunMode, hyperparameter_defaults

app = typer.Typer()

_TINY = hyperparameter_defaults("tiny")
_TINY_RATE = f"{_TINY['learning_rate']:.0e}".replace("e-0", "e-")  # 3e-3
_MODEL_DEFAULT = (
    f"[default: the tiny model's: rate {_TINY_RATE}, {_TINY['num_epochs']} epochs, "
    f"batch {_TINY['batch_size']}, {_TINY['max_seq_length']} tokens]"
)
_POLICY_RATE = f"{GRPO_TRAINING_DEFAULTS['tiny']['learning_rate']:.0e}".replace("e-0", "e-")
_POLICY = f"(the tiny model at rate {_POLICY_RATE}, one epoch)"


@app.command("manifest")
def manifest(
    key: Annotated[str, typer.Argument(help="NAME-VERSION")],
    model_id: Annotated[str, typer.Option(help="e.g. google/gemma-2b-it")],
    output: Annotated[str, typer.Option("-o", "--output", help="YAML file; - for stdout")] = "-",
    output_dir: Annotated[
        str | None, typer.Option(help="Under the runs dir [default: KEY]")
    ] = None,
    learning_rate: Annotated[float | None, typer.Option(help=_MODEL_DEFAULT)] = None,
    num_epochs: Annotated[int | None, typer.Option(help=_MODEL_DEFAULT)] = None,
    batch_size: Annotated[int | None, typer.Option(help=_MODEL_DEFAULT)] = None,
    max_seq_length: Annotated[int | None, typer.Option(help=_MODEL_DEFAULT)] = None,
    mode: Annotated[
        RunMode,
        typer.Option(help=f"grpo, dpo, orpo: fine-tune a run's checkpoint further {_POLICY}"),
    ] = "sft",
    init_from_run: Annotated[
        str | None,
        typer.Option(metavar="RUN_ID", help="grpo, dpo, orpo: the run to start from"),
    ] = None,
) -> None:
    """Write a Tunix run manifest (YAML) for a dataset, with defaults that train its model."""
    from pydantic import ValidationError

    from tunix_rt.errors import describe_validation_error
    from tunix_rt.runs.manifest import ManifestRequest
    from tunix_rt.runs.service import sft_manifest

    start = None if init_from_run is None else parse_id(init_from_run, "run")
    try:
        request = ManifestRequest(
            dataset_key=key,
            model_id=model_id,
            output_dir=output_dir or key,
            learning_rate=learning_rate,
            num_epochs=num_epochs,
            batch_size=batch_size,
            max_seq_length=max_seq_length,
            mode=mode,
            init_from_run=start,
        )
    except ValidationError as exc:
        raise fail(describe_validation_error(exc)) from None

    text = run_read(lambda conn: sft_manifest(conn, request)).to_yaml()
    with atomic_output(output) as out:
        out.write(text.encode())
    if output != "-":
        err.print(f"wrote {Path(output)}", highlight=False)
