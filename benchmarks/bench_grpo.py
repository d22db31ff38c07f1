"""GRPO runs: `run_grpo` against a bare Tunix `GRPOLearner` loop.

Both start from the same tiny SFT checkpoint (trained first on two-digit additions with
`run_training`, kept in `--workdir`, by default `tunix_rt_bench_grpo` in the system's temporary
folder, so later runs reuse it) and train on the same prompts, in the same batches and order,
with the same rewards and seed:

- product: `run_grpo` (manifest `mode: grpo`, `model.init_from_run` → the SFT folder), with an
  `on_step` callback that keeps the metrics;
- bare: what a Tunix user writes by hand: load the checkpoint, a copy of it as the KL reference,
  the same `RLCluster` config (one mesh for actor, reference and rollout; the same rollout config,
  optimizer, checkpointing and `GRPOConfig`), the product's reward functions
  (`tunix_rt.evals.rewards`) each weighted as the manifest says, and `GRPOLearner.train` over a
  plain generator of prompt batches. No reward bookkeeping, no metric hooks, no rollout file.

The bare loop uses the product's rollout engine (`ProductRollout`), because a bare loop needs
the same fixes or it does not run: the learner hands the prompts to the rollout as numpy strings,
which SentencePiece refuses; the tiny model's embedding is wider than its tokenizer, so ids past
the tokenizer's pieces must never be sampled; and the rewards need a completion that stopped at
`<end_of_turn>` to end in it.

Timing (steady state): each side reports the wall time at Tunix's `on_train_step_end` of every
step, the product through `on_step`'s `elapsed_seconds`, the bare loop through a hook that only
reads the clocks. A run's seconds per step are the median of the intervals between the reports
of step `warmup` and of step `steps - 1` (the mean is reported too): compilation (the first
steps) and the loop's end (the last report comes when the loop closes, after the final
checkpoint) are left out, on both sides alike. Both sides sample the same completions step for
step, so their steps do the same work; the median keeps a moment of load from another process
out. The two sides alternate for `--rounds` rounds, the first side swapping every round (this
machine's speed drifts); the figure is the median of the per-round ratios product/bare, with
their spread. The same figures in CPU seconds (the process's, all threads, between the same
reports) are less sensitive to other processes on a busy machine.

Determinism: the per-step reward means of every product run equal each other and the bare
loop's exactly (the bare loop's are Tunix's own logged `rewards/sum`, through
`RLCluster.with_external_metrics_logger`). Asserted. Prints JSON.

    python benchmarks/bench_grpo.py [--steps 30] [--warmup 3] [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunix_rt.evals.rewards import REWARDS, RewardInput
from tunix_rt.formats import encode_line, render
from tunix_rt.formats.gemma import END_OF_TURN
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.runs.manifest import RunManifest
from tunix_rt.training import models
from tunix_rt.training import runner as sft
from tunix_rt.training.grpo import GrpoStepMetrics, _rollout_class, run_grpo

WORKDIR = Path(tempfile.gettempdir()) / "tunix_rt_bench_grpo"
REWARD_SPECS = [
    {"name": "answer", "weight": 1.0},
    {"name": "steps", "weight": 0.5},
    {"name": "format", "weight": 0.2},
]


def _arithmetic(path: Path, count: int, seed: int) -> Path:
    with path.open("wb") as out:
        for index, trace in enumerate(generate_arithmetic(count, seed, digits=2, operation="add")):
            record = render("tunix_sft", f"arith-{index}", trace.model_dump(mode="json"))
            out.write(encode_line(record))
    return path


def sft_checkpoint(workdir: Path, steps: int, width: int) -> Path:
    """The tiny SFT run GRPO starts from, trained once per (steps, width) and then reused."""
    folder = workdir / f"sft-w{width}-s{steps}"
    if (folder / sft.RESULT_FILE).is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = _arithmetic(workdir / "sft.jsonl", 2000, seed=0)
    manifest = RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny", "width": width},
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
    sft.run_training(manifest, dataset_jsonl=data, output_dir=folder)
    return folder


def grpo_manifest(steps: int, max_tokens: int) -> RunManifest:
    return RunManifest.model_validate(
        {
            "mode": "grpo",
            "model": {
                "model_id": "tunix-rt/tiny",
                "init_from_run": "00000000-0000-0000-0000-000000000001",
            },
            "dataset": {"key": "bench"},
            "training": {"learning_rate": 1e-3, "batch_size": 4, "max_steps": steps},
            "grpo": {
                "num_generations": 4,
                "temperature": 0.7,
                "max_tokens_to_generate": max_tokens,
                "max_prompt_length": 32,
                "rollouts_every_n_steps": 2,
                "rollouts_per_sample": 4,
            },
            "rewards": REWARD_SPECS,
            "output": {"output_dir": "model"},
        }
    ).resolved()


def steady(
    report_times: Sequence[float], cpu_times: Sequence[float], warmup: int
) -> dict[str, float]:
    """The steps between the reports of step `warmup` and of the last but one step
    (`report_times[k]` is the report of step k + 1): their median and mean wall seconds, and
    the process's median CPU seconds."""

    def intervals(times: Sequence[float]) -> np.ndarray:
        return np.diff(np.asarray(times[warmup - 1 : len(times) - 1], dtype=np.float64))

    wall = intervals(report_times)
    return {
        "seconds_per_step": float(np.median(wall)),
        "mean_seconds_per_step": float(wall.mean()),
        "cpu_seconds_per_step": float(np.median(intervals(cpu_times))),
    }


def run_product(
    manifest: RunManifest, prompts: Path, source: Path, output: Path, warmup: int
) -> dict[str, Any]:
    shutil.rmtree(output, ignore_errors=True)
    steps: list[GrpoStepMetrics] = []
    cpu_times: list[float] = []

    def on_step(metrics: GrpoStepMetrics) -> None:
        cpu_times.append(time.process_time())
        steps.append(metrics)

    result = run_grpo(
        manifest, dataset_jsonl=prompts, output_dir=output, source_dir=source, on_step=on_step
    )
    assert [s.step for s in steps] == list(range(1, result.steps + 1))
    return {
        **steady([s.elapsed_seconds for s in steps], cpu_times, warmup),
        "loop_seconds": result.train_seconds,
        "reward_means": [s.reward_mean for s in steps],
    }


# --- the bare loop --------------------------------------------------------------------------


def _prompts(path: Path) -> list[dict[str, str]]:
    rows = []
    for raw in path.read_bytes().splitlines():
        row = json.loads(raw)
        meta = json.loads(row["metadata"]["meta_json"])
        rows.append(
            {
                "prompt": row["prompt"],
                "reference": row["completion"],
                "expected": str(meta["expected_answer"]),
            }
        )
    return rows


def _batches(
    prompts: list[dict[str, str]], batch_size: int, steps: int, seed: int
) -> Iterator[dict[str, np.ndarray]]:
    """Batches of prompts in a seeded order, epoch after epoch (as `run_grpo` orders them)."""
    rng = np.random.default_rng(seed)
    order: list[int] = []
    for _ in range(steps):
        while len(order) < batch_size:
            order.extend(int(i) for i in rng.permutation(len(prompts)))
        batch = [prompts[i] for i in order[:batch_size]]
        del order[:batch_size]
        yield {
            "prompts": np.asarray([p["prompt"] for p in batch]),
            "expected": np.asarray([p["expected"] for p in batch]),
            "reference": np.asarray([p["reference"] for p in batch]),
        }


def _reward_fn(name: str, weight: float) -> Callable[..., list[float]]:
    reward = REWARDS[name]

    def score(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [
            weight * reward.score(RewardInput(str(c), str(e), str(r)))
            for c, e, r in zip(completions, kwargs["expected"], kwargs["reference"], strict=True)
        ]

    score.__name__ = f"reward_{name}"
    return score


def run_bare(
    manifest: RunManifest, prompts_file: Path, source: Path, output: Path, warmup: int
) -> dict[str, Any]:
    from flax import nnx
    from tunix.rl import rl_cluster as rl_cluster_lib
    from tunix.rl.grpo import grpo_learner
    from tunix.rl.rollout import base_rollout
    from tunix.sft import hooks

    shutil.rmtree(output, ignore_errors=True)
    training, grpo = manifest.training, manifest.grpo
    assert grpo is not None and manifest.rewards is not None and training.max_steps is not None
    steps = training.max_steps
    trained = sft.load_checkpoint(source)
    policy, tokenizer, mesh = trained.model, trained.tokenizer, trained.mesh
    reference = nnx.clone(policy)
    limit = grpo.max_prompt_length  # BOS included, as run_grpo counts
    prompts = [p for p in _prompts(prompts_file) if len(tokenizer.encode(p["prompt"])) < limit]
    schedule = sft.learning_rate_schedule(training, steps)
    end_of_turn = int(tokenizer.piece_to_id(END_OF_TURN))
    forbidden = tuple(
        range(int(tokenizer.get_piece_size()), int(models.model_config(trained.spec).num_embed))
    )
    config = rl_cluster_lib.ClusterConfig(
        role_to_mesh={
            rl_cluster_lib.Role.ACTOR: mesh,
            rl_cluster_lib.Role.REFERENCE: mesh,
            rl_cluster_lib.Role.ROLLOUT: mesh,
        },
        rollout_engine=_rollout_class(end_of_turn, forbidden, training.seed),
        offload_to_cpu=False,
        training_config=rl_cluster_lib.RLTrainingConfig(
            actor_optimizer=sft.build_optimizer(training, schedule),
            eval_every_n_steps=steps + 1,
            max_steps=steps,
            checkpoint_root_directory=str(output.resolve() / "checkpoints"),
            checkpointing_options=sft.checkpoint_options(training, steps),
            pbar_description=None,
        ),
        rollout_config=base_rollout.RolloutConfig(
            max_tokens_to_generate=grpo.max_tokens_to_generate,
            max_prompt_length=grpo.max_prompt_length,
            kv_cache_size=grpo.max_prompt_length + grpo.max_tokens_to_generate,
            temperature=grpo.temperature,
            top_p=grpo.top_p,
            top_k=grpo.top_k,
            eos_tokens=[end_of_turn],
        ),
    )
    report_times: list[float] = []
    cpu_times: list[float] = []

    class Clock(hooks.TrainingHooks):  # type: ignore[misc]
        def on_train_start(self, train_ctx: Any) -> None:
            pass

        def on_train_end(self, train_ctx: Any) -> None:
            pass

        def on_train_step_start(self, train_ctx: Any) -> None:
            pass

        def on_train_step_end(self, train_ctx: Any, train_step: int, train_loss: Any) -> None:
            report_times.append(time.perf_counter())
            cpu_times.append(time.process_time())

        def on_eval_step_start(self, train_ctx: Any) -> None:
            pass

        def on_eval_step_end(self, train_ctx: Any, eval_loss: Any) -> None:
            pass

    reward_sums: dict[int, float] = {}

    def logged(buffer: Any) -> None:
        if "rewards/sum" in buffer.metrics:
            values, _ = buffer.metrics["rewards/sum"]
            reward_sums[int(buffer.global_steps)] = float(np.mean(np.asarray(values)))

    with models.activate(mesh):
        cluster = rl_cluster_lib.RLCluster(
            actor=policy, reference=reference, tokenizer=tokenizer, cluster_config=config
        )
        learner = grpo_learner.GRPOLearner(
            rl_cluster=cluster,
            algo_config=grpo_learner.GRPOConfig(
                num_generations=grpo.num_generations,
                num_iterations=grpo.num_iterations,
                beta=grpo.beta,
                epsilon=grpo.epsilon,
            ),
            reward_fns=[_reward_fn(r.name, r.weight) for r in manifest.rewards],
        )
        cluster.actor_trainer.with_training_hooks(Clock())
        cluster.with_external_metrics_logger(logged)
        start = time.perf_counter()
        learner.train(_batches(prompts, training.batch_size, steps, training.seed))
        loop_seconds = time.perf_counter() - start
        cluster.close()  # logs the last step's buffered metrics
    assert len(report_times) == steps, report_times
    return {
        **steady(report_times, cpu_times, warmup),
        "loop_seconds": loop_seconds,
        "reward_means": [reward_sums[step] for step in sorted(reward_sums)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="GRPO steps per run")
    parser.add_argument("--warmup", type=int, default=3, help="steps left out (compilation)")
    parser.add_argument("--rounds", type=int, default=5, help="product/bare pairs")
    parser.add_argument("--max-tokens", type=int, default=64, help="grpo.max_tokens_to_generate")
    parser.add_argument("--sft-steps", type=int, default=400)
    parser.add_argument("--width", type=int, default=64, help="the tiny model's width")
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 6 steps, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup, args.rounds = 6, 2, 1
    if args.steps < args.warmup + 3:
        parser.error("--steps: must be at least --warmup + 3")
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    source = sft_checkpoint(workdir, args.sft_steps, args.width)
    prompts = _arithmetic(workdir / "prompts.jsonl", 64, seed=5)
    manifest = grpo_manifest(args.steps, args.max_tokens)
    runs: dict[str, list[dict[str, Any]]] = {"product": [], "bare": []}
    for round_ in range(args.rounds):
        # Alternate which side goes first, so neither always runs on a warmer machine.
        order = ["product", "bare"] if round_ % 2 == 0 else ["bare", "product"]
        for side in order:
            run = run_product if side == "product" else run_bare
            runs[side].append(run(manifest, prompts, source, workdir / side, args.warmup))
    ratios = [
        p["seconds_per_step"] / b["seconds_per_step"]
        for p, b in zip(runs["product"], runs["bare"], strict=True)
    ]
    cpu_ratios = [
        p["cpu_seconds_per_step"] / b["cpu_seconds_per_step"]
        for p, b in zip(runs["product"], runs["bare"], strict=True)
    ]
    rewards = runs["product"][0]["reward_means"]
    same_rewards = all(r["reward_means"] == rewards for side in runs.values() for r in side)
    report = {
        "model": f"tiny Gemma3 (d={args.width}, SFT {args.sft_steps} steps)",
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "batch": (
            f"{manifest.training.batch_size} prompts x {manifest.grpo.num_generations} "  # type: ignore[union-attr]
            f"completions of at most {args.max_tokens} tokens"
        ),
        "ratio_product_over_bare_median": round(statistics.median(ratios), 4),
        "ratio_min": round(min(ratios), 4),
        "ratio_max": round(max(ratios), 4),
        "seconds_per_step_product_median": round(
            statistics.median(r["seconds_per_step"] for r in runs["product"]), 4
        ),
        "seconds_per_step_bare_median": round(
            statistics.median(r["seconds_per_step"] for r in runs["bare"]), 4
        ),
        "cpu_ratio_product_over_bare_median": round(statistics.median(cpu_ratios), 4),
        "cpu_ratio_min": round(min(cpu_ratios), 4),
        "cpu_ratio_max": round(max(cpu_ratios), 4),
        "cpu_seconds_per_step_product_median": round(
            statistics.median(r["cpu_seconds_per_step"] for r in runs["product"]), 4
        ),
        "cpu_seconds_per_step_bare_median": round(
            statistics.median(r["cpu_seconds_per_step"] for r in runs["bare"]), 4
        ),
        "same_rewards": same_rewards,
        "reward_means": rewards,
        "all_runs": runs,
    }
    print(json.dumps(report, indent=2))
    assert same_rewards, "the reward means differ between runs"


if __name__ == "__main__":
    main()
