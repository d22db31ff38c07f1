"""Training throughput: `run_training` against a bare Tunix `PeftTrainer` loop.

Both train the same tiny Gemma3 model (same init, tokenizer, optimizer and schedule) on the same
batches, in the same order, for the same number of steps, on the CPU. The bare loop is what a
hand-written Tunix script does: pre-built `TrainingInput` batches, `with_gen_model_input_fn`,
`train()`; no hooks, no checkpointing, no metrics. `run_training` adds data preparation, the
metrics hooks, the stop check and checkpointing; its overhead is measured on the training loop:

- `loop_tokens_per_second`: non-padding tokens / wall time of `trainer.train()` (compilation and,
  for run_training, the final checkpoint included);
- `steady_tokens_per_second`: steps 2..N only (after compilation).

The bare loop runs twice: without checkpointing, and with Tunix's checkpoint manager writing the
final checkpoint as run_training does (like-for-like work). Alternating runs, best of
`--repeat`. Prints JSON.

    python benchmarks/bench_training.py [--steps 150] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunix_rt.formats import encode_line, render
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.training import data as data_lib
from tunix_rt.training import models
from tunix_rt.training.runner import (
    build_optimizer,
    learning_rate_schedule,
    model_inputs,
    run_training,
)
from tunix_rt.training.tokenizer import load_tokenizer


def _dataset(path: Path, count: int) -> Path:
    with path.open("wb") as out:
        for index, trace in enumerate(generate_arithmetic(count, 0, digits=2, operation="add")):
            record = render("tunix_sft", f"arith-{index}", trace.model_dump(mode="json"))
            out.write(encode_line(record))
    return path


def _manifest(steps: int) -> RunManifest:
    return RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny"},
            "dataset": {"key": "bench", "path": "datasets/bench/tunix_sft.jsonl"},
            "training": {
                "learning_rate": 3e-3,
                "batch_size": 8,
                "max_seq_length": 256,
                "max_steps": steps,
            },
            "output": {"output_dir": "runs/bench"},
        }
    )


def run_ours(manifest: RunManifest, dataset: Path, output_dir: Path) -> dict[str, Any]:
    result = run_training(manifest, dataset_jsonl=dataset, output_dir=output_dir)
    tokens = _step_tokens(manifest, dataset, output_dir / "tokenizer.model")
    return {
        "loop_seconds": result.train_seconds,
        "loop_tokens_per_second": sum(tokens) / result.train_seconds,
        "steady_tokens_per_second": result.tokens_per_second,
        "setup_seconds": result.setup_seconds,
        "first_loss": result.first_loss,
        "final_loss": result.final_loss,
    }


def _prepared(manifest: RunManifest, dataset: Path, tokenizer: Path) -> data_lib.PreparedData:
    processor = load_tokenizer(tokenizer)
    records = data_lib.read_records(dataset)
    return data_lib.prepare(records, processor, manifest.training.max_seq_length)


def _step_tokens(manifest: RunManifest, dataset: Path, tokenizer: Path) -> list[int]:
    prepared = _prepared(manifest, dataset, tokenizer)
    plan = data_lib.batch_plan(
        prepared.lengths, manifest.training.batch_size, manifest.training.seed, prepared.seq_len
    )
    steps = manifest.training.max_steps or 1
    return [int((prepared.tokens[next(plan)[0]] != 0).sum()) for _ in range(steps)]


def run_bare(
    manifest: RunManifest, dataset: Path, tokenizer: Path, checkpoint_dir: Path | None
) -> dict[str, Any]:
    """The same run as a plain Tunix script (with or without Tunix's final checkpoint)."""
    import orbax.checkpoint as ocp
    from tunix.sft import peft_trainer

    training = manifest.training
    steps = training.max_steps or 1
    prepared = _prepared(manifest, dataset, tokenizer)
    plan = data_lib.batch_plan(
        prepared.lengths, training.batch_size, training.seed, prepared.seq_len
    )
    batches = []
    for _ in range(steps):
        index, width = next(plan)
        batches.append(
            peft_trainer.TrainingInput(
                input_tokens=prepared.tokens[index, :width],
                input_mask=prepared.mask[index, :width],
            )
        )
    tokens = [int((batch.input_tokens != 0).sum()) for batch in batches]
    resolved = manifest.resolved()
    assert resolved.mesh is not None
    mesh = models.create_mesh(resolved.mesh)
    spec = models.tiny_spec(
        int(load_tokenizer(tokenizer).get_piece_size()),
        layers=manifest.model.tiny_layers,
        width=manifest.model.tiny_width,
    )
    model = models.init_model(spec, mesh, training.seed)
    schedule = learning_rate_schedule(training, steps)
    trainer = peft_trainer.PeftTrainer(
        model,
        build_optimizer(training, schedule),
        peft_trainer.TrainingConfig(
            eval_every_n_steps=steps,
            max_steps=steps,
            checkpoint_root_directory=str(checkpoint_dir) if checkpoint_dir else None,
            checkpointing_options=ocp.CheckpointManagerOptions(
                save_interval_steps=steps, max_to_keep=1
            ),
        ),
    ).with_gen_model_input_fn(model_inputs)
    requested: list[float] = []

    def timed() -> Iterator[Any]:
        for batch in batches:
            requested.append(time.perf_counter())
            yield batch

    start = time.perf_counter()
    with models.activate(mesh):
        trainer.train(timed())
    loop_seconds = time.perf_counter() - start
    # Batch k+1 is requested once step k is dispatched and step k-1 has finished.
    steady = sum(tokens[2:]) / (loop_seconds - (requested[2] - start))
    losses = trainer.metrics_logger.get_metric_history("", "loss", "train")
    return {
        "loop_seconds": loop_seconds,
        "loop_tokens_per_second": sum(tokens) / loop_seconds,
        "steady_tokens_per_second": steady,
        "first_loss": float(losses[0]),
        "final_loss": float(losses[-1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--examples", type=int, default=300)
    args = parser.parse_args()
    manifest = _manifest(args.steps)
    runs: dict[str, list[dict[str, Any]]] = {"run_training": [], "bare": [], "bare_ckpt": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = _dataset(root / "arith.jsonl", args.examples)
        for attempt in range(args.repeat):
            out = root / f"run-{attempt}"
            runs["run_training"].append(run_ours(manifest, dataset, out))
            tokenizer = out / "tokenizer.model"
            runs["bare"].append(run_bare(manifest, dataset, tokenizer, None))
            runs["bare_ckpt"].append(run_bare(manifest, dataset, tokenizer, root / f"ck-{attempt}"))
    best = {name: max(r, key=lambda x: x["loop_tokens_per_second"]) for name, r in runs.items()}
    steady = {name: max(x["steady_tokens_per_second"] for x in r) for name, r in runs.items()}

    def overhead(ours: float, bare: float) -> float:
        return round(100 * (1 - ours / bare), 2)

    ours = best["run_training"]
    report = {
        "steps": args.steps,
        "batch_size": manifest.training.batch_size,
        "model": (
            f"tiny Gemma3 ({manifest.model.tiny_layers} layers, d={manifest.model.tiny_width})"
        ),
        "run_training": ours,
        "bare_peft_trainer": best["bare"],
        "bare_peft_trainer_with_final_checkpoint": best["bare_ckpt"],
        "overhead_percent_steady": overhead(steady["run_training"], steady["bare"]),
        "overhead_percent_loop_vs_bare_with_checkpoint": overhead(
            ours["loop_tokens_per_second"], best["bare_ckpt"]["loop_tokens_per_second"]
        ),
        "overhead_percent_loop_vs_bare_without_checkpoint": overhead(
            ours["loop_tokens_per_second"], best["bare"]["loop_tokens_per_second"]
        ),
        "same_losses": all(
            x["first_loss"] == ours["first_loss"] and x["final_loss"] == ours["final_loss"]
            for r in runs.values()
            for x in r
        ),
        "all_runs": runs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
