"""Evaluation overhead: the product's evaluation of an eval set against a bare Tunix `Sampler`
loop over the same prompts and checkpoint, run alternately in this process.

    python benchmarks/bench_evaluation.py [--run-dir DIR] [--repeat 5] [--batch-size 32]

Without `--run-dir` it first trains a tiny run on two-digit additions and subtractions (a few
hundred steps). Each round times, from the checkpoint on disk to the last completion:
- `evaluation`: `tunix.evaluate.evaluate_subject` (load, length-bucketed batches, scoring);
- `bare`: `load_checkpoint`, one `Sampler` whose cache fits the longest prompt, and the prompts
  in batches of the same size, in their own order.
Prints one JSON object: the median of each, their ratio (the overhead), the generation tokens/s,
and whether both produced the same completions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tunix_rt.evals.evalsets import get_eval_set, iter_eval_set
from tunix_rt.evals.schema import EvaluationOptions
from tunix_rt.evals.targets import EvalItem
from tunix_rt.formats import encode_line, render
from tunix_rt.formats.gemma import gemma_prompt
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.runs.manifest import RunManifest

EVAL_SET = "arithmetic-add-sub-v1"


def train(folder: Path, steps: int) -> Path:
    from tunix_rt.training.runner import run_training

    data = folder / "train.jsonl"
    with data.open("wb") as out:
        for operation in ("add", "sub"):
            for index, trace in enumerate(
                generate_arithmetic(1000, 1, digits=2, operation=operation)
            ):
                out.write(
                    encode_line(
                        render("tunix_sft", f"{operation}-{index}", trace.model_dump(mode="json"))
                    )
                )
    manifest = RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny"},
            "dataset": {"key": "bench", "path": "datasets/bench/tunix_sft.jsonl"},
            "training": {"max_steps": steps, "max_seq_length": 512},
            "output": {"output_dir": "runs/bench"},
        }
    )
    run_training(manifest, dataset_jsonl=data, output_dir=folder / "run")
    return folder / "run"


def items() -> list[EvalItem]:
    out = []
    for index, trace in enumerate(iter_eval_set(EVAL_SET)):
        meta = dict(trace.meta or {})
        out.append(
            EvalItem(index, gemma_prompt(trace.prompt), trace.prompt, trace.final_answer, meta)
        )
    return out


def product(run_dir: Path, evaluation: list[EvalItem], options: EvaluationOptions) -> list[str]:
    from tunix_rt.training.evaluate import evaluate_subject

    keys = get_eval_set(EVAL_SET).group_by
    result = evaluate_subject(run_dir, "trained", evaluation, options, keys)
    return [item.first.completion for item in result.items]


def bare(run_dir: Path, prompts: list[str], options: EvaluationOptions) -> tuple[list[str], int]:
    """The loop a user would write with Tunix alone."""
    from tunix.generate import sampler as sampler_lib

    from tunix_rt.training.runner import load_checkpoint

    trained = load_checkpoint(run_dir)
    model, tokenizer = trained.model, trained.tokenizer
    config = model.config
    longest = max(len(tokenizer.encode(p)) + 1 for p in prompts)
    prompt_length = 1 << (longest - 1).bit_length()
    sampler = sampler_lib.Sampler(
        model,
        tokenizer,
        sampler_lib.CacheConfig(
            cache_size=prompt_length + options.max_new_tokens,
            num_layers=config.num_layers,
            num_kv_heads=config.num_kv_heads,
            head_dim=config.head_dim,
        ),
    )
    end_of_turn = int(tokenizer.piece_to_id("<end_of_turn>"))
    forbidden = list(range(tokenizer.get_piece_size(), config.num_embed)) or None
    texts: list[str] = []
    tokens = 0
    for start in range(0, len(prompts), options.batch_size):
        output = sampler(
            input_strings=prompts[start : start + options.batch_size],
            max_generation_steps=options.max_new_tokens,
            max_prompt_length=prompt_length,
            eos_tokens=[end_of_turn],
            forbidden_tokens=forbidden,
        )
        texts += output.text
        tokens += sum(len(t) for t in output.tokens)
    return texts, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run-dir", type=Path, help="a run's model folder (default: train one)")
    parser.add_argument("--steps", type=int, default=600, help="training steps without --run-dir")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir or train(Path(tmp), args.steps)
        evaluation = items()
        prompts = [item.prompt for item in evaluation]
        options = EvaluationOptions(
            evalset=EVAL_SET, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size
        )
        times: dict[str, list[float]] = {"evaluation": [], "bare": []}
        outputs: dict[str, list[str]] = {}
        generated = 0
        for _ in range(args.repeat):
            for name in ("evaluation", "bare"):
                started = time.perf_counter()
                if name == "evaluation":
                    outputs[name] = product(run_dir, evaluation, options)
                else:
                    outputs[name], generated = bare(run_dir, prompts, options)
                times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    json.dump(
        {
            "items": len(prompts),
            "batch_size": args.batch_size,
            "evaluation_s": medians["evaluation"],
            "bare_sampler_s": medians["bare"],
            "evaluation_over_bare": medians["evaluation"] / medians["bare"],
            "evaluation_runs_s": times["evaluation"],
            "bare_runs_s": times["bare"],
            "generated_tokens": generated,
            "bare_tokens_per_second": generated / medians["bare"],
            "identical_outputs": outputs["evaluation"] == outputs["bare"],
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
