"""GRPO runs: a `tunix_sft` JSONL file of prompts with expected answers and a RunManifest
(`mode: grpo`) → Tunix's `GRPOLearner` over an `RLCluster`.

The policy is the checkpoint of an earlier run (`model.init_from_run`, resolved by the caller to
that run's output folder), else the model the manifest builds (the tiny model's initialisation,
a smoke test only; or a local checkpoint). The reference for the KL term is a copy of the
starting policy, left out when `grpo.beta` is 0. Actor, reference and rollout share one mesh,
so no weights are copied between them; the rollout is Tunix's vanilla engine (its sampler),
with three fixes of ours (`ProductRollout`). Rewards are the product's own
(`tunix_rt.evals.rewards`), weighted as the manifest says.

Everything a run registry needs comes out through `on_step` (`GrpoStepMetrics`: loss, KL, reward
mean and std per reward, completion length, clip fraction, tokens/s, and the share of groups
whose rewards differ, without which a group teaches nothing) and `rollouts.jsonl` (a sample of
rollouts every `grpo.rollouts_every_n_steps` steps). The output folder has the SFT layout
(`runner`'s docstring), with the checkpoints under `checkpoints/actor/` and, for a run started
from another one, `init_from.json` naming that run's folder and step.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from tunix_rt.atomic_file import atomic_file
from tunix_rt.evals.answers import expected_answer_of
from tunix_rt.evals.rewards import REWARDS, RewardInput
from tunix_rt.formats.gemma import END_OF_TURN
from tunix_rt.runs.manifest import GrpoSection, RewardSpec, RunManifest
from tunix_rt.runs.paths import CHECKPOINTS_DIR, ROLLOUTS_FILE, latest_step, mode_checkpoints
from tunix_rt.training import data as data_lib
from tunix_rt.training import models
from tunix_rt.training import runner as sft
from tunix_rt.training.data import DatasetError, SftRecord, total_steps
from tunix_rt.training.policy import starting_policy


@dataclasses.dataclass(frozen=True)
class Prompt:
    """One training prompt: its text, the reference completion and the expected answer."""

    trace_id: str
    prompt: str
    reference: str
    expected: str


@dataclasses.dataclass(frozen=True)
class RewardStats:
    mean: float
    std: float


@dataclasses.dataclass(frozen=True)
class GrpoStepMetrics(sft.StepMetrics):
    """What one GRPO optimizer step reports, beyond the SFT fields (`tokens` counts the
    tokens the step's rollouts generated)."""

    kl: float | None = None  # mean KL to the reference (None when beta is 0)
    reward_mean: float = 0.0  # the weighted total reward, over the step's completions
    reward_std: float = 0.0
    rewards: dict[str, RewardStats] = dataclasses.field(default_factory=dict)  # unweighted
    completion_tokens: float = 0.0  # mean generated tokens per completion
    clip_fraction: float | None = None
    groups_with_spread: float = 0.0  # share of groups whose total rewards are not all equal

    def summary(self) -> str:
        return f"step {self.step} reward {self.reward_mean:.3f} loss {self.loss:.4f}"

    def log_line(self) -> str:
        kl = "" if self.kl is None else f" kl {self.kl:.4f}"
        return (
            f"{super().log_line()}{kl} reward {self.reward_mean:.3f} (std {self.reward_std:.3f})"
            f" spread {self.groups_with_spread:.2f} length {self.completion_tokens:.0f}"
        )


def read_prompts(path: Path) -> list[Prompt]:
    """The `tunix_sft` records of `path` as prompts; each needs `metadata.meta_json`'s
    `expected_answer` (the trace's `meta.expected_answer`)."""
    prompts: list[Prompt] = []
    for number, row in data_lib.json_rows(path):
        record = data_lib.sft_record(row, f"{path}:{number}")
        fields = row if isinstance(row, dict) else {}
        metadata = fields.get("metadata") or {}
        meta = json.loads(metadata.get("meta_json") or "{}")
        expected = expected_answer_of(meta)
        trace_id = str(metadata.get("trace_id") or fields.get("id") or f"line {number}")
        if expected is None:
            raise DatasetError(
                f"trace {trace_id} has no meta.expected_answer: GRPO rewards need the "
                "expected answer of every prompt",
                loc=("dataset", "key"),
            )
        prompts.append(Prompt(trace_id, record.prompt, record.completion, expected))
    return data_lib.some_records(prompts, path)


class RewardBook:
    """The manifest's rewards as Tunix reward functions (each weighted), and what they scored:
    every call's unweighted scores per reward, for the step metrics and the rollout samples."""

    def __init__(self, specs: Sequence[RewardSpec], num_generations: int) -> None:
        self.specs = list(specs)
        self.num_generations = num_generations
        self.batches: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._current: dict[str, Any] = {}

    def tunix_reward_fns(self) -> list[Callable[..., list[float]]]:
        return [self._reward_fn(index) for index in range(len(self.specs))]

    def _reward_fn(self, index: int) -> Callable[..., list[float]]:
        spec = self.specs[index]
        reward = REWARDS[spec.name]

        def score(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
            items = [
                RewardInput(str(completion), str(expected), str(reference))
                for completion, expected, reference in zip(
                    completions, kwargs["expected"], kwargs["reference"], strict=True
                )
            ]
            scores = [reward.score(item) for item in items]
            self._record(index, prompts, completions, kwargs, scores)
            return [spec.weight * value for value in scores]

        score.__name__ = f"reward_{spec.name}"
        return score

    def _record(
        self,
        index: int,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        kwargs: dict[str, Any],
        scores: list[float],
    ) -> None:
        with self._lock:
            if index == 0:
                self._current = {
                    "prompts": [str(p) for p in prompts],
                    "completions": [str(c) for c in completions],
                    "expected": [str(e) for e in kwargs["expected"]],
                    "trace_ids": [str(t) for t in kwargs["trace_id"]],
                    "scores": {},
                }
            self._current["scores"][self.specs[index].name] = scores
            if index == len(self.specs) - 1:
                self.batches.append(self._current)
                self._current = {}

    def take(self) -> dict[str, Any] | None:
        with self._lock:
            return self.batches.popleft() if self.batches else None

    def summary(self, batch: dict[str, Any]) -> tuple[float, float, dict[str, RewardStats], float]:
        """(total mean, total std, per-reward stats, share of groups with spread)."""
        scores = {
            name: np.asarray(values, dtype=np.float64) for name, values in batch["scores"].items()
        }
        total = sum(spec.weight * scores[spec.name] for spec in self.specs)
        total = np.asarray(total, dtype=np.float64)
        groups = total.reshape(-1, self.num_generations)
        spread = float(np.mean(np.ptp(groups, axis=1) > 1e-9)) if groups.size else 0.0
        stats = {
            name: RewardStats(float(values.mean()), float(values.std()))
            for name, values in scores.items()
        }
        return float(total.mean()), float(total.std()), stats, spread


def _rollout_class(end_of_turn: int, forbidden: tuple[int, ...], seed: int) -> type[Any]:
    """Tunix's vanilla rollout engine, with three fixes: prompts reach SentencePiece as `str`
    (they arrive as numpy strings, which it refuses), the ids past the tokenizer's pieces
    (the tiny model's embedding is rounded up) are never sampled, and a completion that stopped
    at `<end_of_turn>` ends in it (so the rewards can tell it from one cut off). Every call
    samples with its own seed, derived from the run's."""
    from tunix.rl.rollout import base_rollout, vanilla_rollout

    class ProductRollout(vanilla_rollout.VanillaRollout):  # type: ignore[misc]
        def __init__(
            self, rollout_actor: Any, tokenizer: Any, mesh: Any, rollout_config: Any
        ) -> None:
            super().__init__(
                rollout_actor,
                tokenizer,
                base_rollout.CacheConfig(
                    cache_size=rollout_config.kv_cache_size,
                    num_layers=rollout_actor.config.num_layers,
                    num_kv_heads=rollout_actor.config.num_kv_heads,
                    head_dim=rollout_actor.config.head_dim,
                ),
            )
            self.calls = 0
            self.generated_tokens: deque[list[int]] = deque()

        def generate(self, prompts: list[str], rollout_config: Any, **kwargs: Any) -> Any:
            call_seed = int(np.random.SeedSequence([seed, self.calls]).generate_state(1)[0] >> 1)
            self.calls += 1
            output = self._sampler(
                input_strings=[str(prompt) for prompt in prompts],
                max_generation_steps=rollout_config.max_tokens_to_generate,
                max_prompt_length=rollout_config.max_prompt_length,
                echo=False,
                temperature=rollout_config.temperature,
                top_p=rollout_config.top_p,
                top_k=rollout_config.top_k,
                seed=call_seed,
                pad_output=False,
                eos_tokens=[end_of_turn],
                forbidden_tokens=forbidden or None,
            )
            limit = rollout_config.max_tokens_to_generate
            lengths = [int(np.asarray(tokens).shape[0]) for tokens in output.tokens]
            self.generated_tokens.append(lengths)
            texts = [
                text + END_OF_TURN if length < limit else text
                for text, length in zip(output.text, lengths, strict=True)
            ]
            return base_rollout.RolloutOutput(
                text=texts,
                logits=output.logits,
                tokens=output.tokens,
                left_padded_prompt_tokens=output.padded_prompt_tokens,
                logprobs=output.logprobs,
            )

    return ProductRollout


class PromptBatches:
    """Batches of `training.batch_size` prompts in a seeded order (epoch after epoch), as Tunix's
    learner takes them; ends early on `should_stop` or past training.max_minutes."""

    def __init__(
        self,
        prompts: Sequence[Prompt],
        batch_size: int,
        steps: int,
        seed: int,
        max_minutes: float | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.prompts = list(prompts)
        self.batch_size = batch_size
        self.steps = steps
        self.seed = seed
        self.deadline = None if max_minutes is None else 60 * max_minutes
        self.should_stop = should_stop
        self.stopped = False
        self.time_limited = False
        self.started = time.perf_counter()

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        order: list[int] = []
        for step in range(self.steps):
            if self.should_stop is not None and self.should_stop():
                self.stopped = True
                return
            elapsed = time.perf_counter() - self.started
            if step and self.deadline is not None and elapsed > self.deadline:
                self.time_limited = True
                return
            while len(order) < self.batch_size:
                order.extend(int(i) for i in rng.permutation(len(self.prompts)))
            batch = [self.prompts[i] for i in order[: self.batch_size]]
            del order[: self.batch_size]
            # Arrays, not lists: the learner repeats every leaf for the group (a list of
            # strings would make each string a leaf).
            yield {
                "prompts": np.asarray([p.prompt for p in batch]),
                "expected": np.asarray([p.expected for p in batch]),
                "reference": np.asarray([p.reference for p in batch]),
                "trace_id": np.asarray([p.trace_id for p in batch]),
            }


class GrpoHooks:
    """Tunix's training hooks on the actor trainer → `GrpoStepMetrics`, one per optimizer step,
    with the rewards of the rollouts that step trained on; a sample of those rollouts is
    appended to `rollouts.jsonl` every `rollouts_every_n_steps` steps."""

    def __init__(
        self,
        book: RewardBook,
        rollout_lengths: Callable[[], list[int] | None],
        grpo: GrpoSection,
        rates: np.ndarray,
        rollouts_file: Path,
        on_step: Callable[[GrpoStepMetrics], None] | None,
    ) -> None:
        self.book = book
        self.rollout_lengths = rollout_lengths
        self.grpo = grpo
        self.rates = rates
        self.rollouts_file = rollouts_file
        self.on_step = on_step
        self.losses: list[float] = []
        self.step_times: list[float] = []
        self.step_tokens: list[int] = []
        self._batch: dict[str, Any] | None = None
        self._batch_steps = 0
        self._lengths: list[int] = []
        self.start = time.perf_counter()
        self._last = self.start

    def start_clock(self, now: float) -> None:
        """The training loop starts: elapsed times and tokens/s count from `now`."""
        self.start = self._last = now

    def tunix_hooks(self) -> Any:
        from tunix.sft import hooks

        outer = self

        class Hooks(hooks.TrainingHooks):  # type: ignore[misc]
            def on_train_start(self, train_ctx: Any) -> None:
                pass

            def on_train_end(self, train_ctx: Any) -> None:
                pass

            def on_train_step_start(self, train_ctx: Any) -> None:
                pass

            def on_train_step_end(self, train_ctx: Any, train_step: int, train_loss: Any) -> None:
                logger = train_ctx.metrics_logger
                extra = {
                    name: sft.last_metric(logger, train_ctx.metrics_prefix, name)
                    for name in ("kl", "pg_clipfrac")
                }
                outer.step_end(int(train_step), float(train_loss), extra)

            def on_eval_step_start(self, train_ctx: Any) -> None:
                pass

            def on_eval_step_end(self, train_ctx: Any, eval_loss: Any) -> None:
                pass

        return Hooks()

    def step_end(self, step: int, loss: float, extra: dict[str, float | None]) -> None:
        if self._batch is None or self._batch_steps >= self.grpo.num_iterations:
            self._batch = self.book.take()
            self._lengths = self.rollout_lengths() or []
            self._batch_steps = 0
            if self._batch is not None and step % self.grpo.rollouts_every_n_steps in (0, 1):
                self._write_rollouts(step, self._batch)
        self._batch_steps += 1
        batch = self._batch
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        mean = std = spread = 0.0
        stats: dict[str, RewardStats] = {}
        tokens = 0
        if batch is not None:
            mean, std, stats, spread = self.book.summary(batch)
        if self._lengths:
            tokens = sum(self._lengths)
        self.losses.append(loss)
        self.step_times.append(now)
        self.step_tokens.append(tokens)
        if self.on_step is not None:
            self.on_step(
                GrpoStepMetrics(
                    step=step,
                    loss=loss,
                    learning_rate=float(self.rates[min(step, len(self.rates)) - 1]),
                    tokens=tokens,
                    tokens_per_second=tokens / elapsed if elapsed > 0 else 0.0,
                    elapsed_seconds=now - self.start,
                    kl=extra["kl"] if self.grpo.beta else None,
                    reward_mean=mean,
                    reward_std=std,
                    rewards=stats,
                    completion_tokens=float(np.mean(self._lengths)) if self._lengths else 0.0,
                    clip_fraction=extra["pg_clipfrac"],
                    groups_with_spread=spread,
                )
            )

    def _write_rollouts(self, step: int, batch: dict[str, Any]) -> None:
        count = min(self.grpo.rollouts_per_sample, len(batch["completions"]))
        with self.rollouts_file.open("a", encoding="utf-8") as out:
            for row in range(count):
                scores = {name: values[row] for name, values in batch["scores"].items()}
                line = {
                    "step": step,
                    "group": row // self.book.num_generations,
                    "trace_id": batch["trace_ids"][row],
                    "prompt": batch["prompts"][row],
                    "completion": batch["completions"][row],
                    "expected": batch["expected"][row],
                    "rewards": scores,
                    "reward": sum(spec.weight * scores[spec.name] for spec in self.book.specs),
                }
                out.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")

    def steady_tokens_per_second(self) -> float | None:
        if len(self.step_times) < 2:
            return None
        seconds = self.step_times[-1] - self.step_times[0]
        return sum(self.step_tokens[1:]) / seconds if seconds > 0 else None


def rollouts_until(path: Path, step: int) -> None:
    """Keep the stored rollouts of steps up to `step` (the checkpoint a run resumes from), in
    place, the file rewritten whole; a run killed after it stored more stores them again."""
    if not path.is_file():
        return
    with path.open("rb") as lines:
        kept = [line for line in lines if line.strip() and json.loads(line)["step"] <= step]
    with atomic_file(path) as out:
        out.write(b"".join(kept))


def fitting_prompts(
    prompts: Sequence[Prompt], tokenizer: Any, max_prompt_length: int
) -> tuple[list[Prompt], int]:
    """The prompts of at most `max_prompt_length` tokens (BOS included), and how many were
    longer (left out, as SFT leaves out an example whose prompt fills its sequence)."""
    kept = [p for p in prompts if len(tokenizer.encode(p.prompt)) + 1 <= max_prompt_length]
    if not kept:
        raise sft.TrainingError(
            f"every prompt is longer than grpo.max_prompt_length ({max_prompt_length} tokens)",
            loc=("grpo", "max_prompt_length"),
        )
    return kept, len(prompts) - len(kept)


def run_grpo(
    manifest: RunManifest,
    *,
    dataset_jsonl: Path,
    output_dir: Path,
    source_dir: Path | None = None,
    on_step: Callable[[GrpoStepMetrics], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> sft.TrainingResult:
    """Train `manifest` (mode grpo) on the prompts of `dataset_jsonl` with Tunix's GRPOLearner;
    write into `output_dir`. `source_dir` is the output folder of model.init_from_run's run.
    `on_step` and `should_stop` behave as in `runner.run_training`."""
    from tunix.rl import rl_cluster as rl_cluster_lib
    from tunix.rl.grpo import grpo_learner
    from tunix.rl.rollout import base_rollout

    setup_start = time.perf_counter()
    manifest = manifest.resolved()
    training, grpo = manifest.training, manifest.grpo
    assert grpo is not None and manifest.rewards is not None
    output_dir.mkdir(parents=True, exist_ok=True)
    prompts = read_prompts(dataset_jsonl)
    records = [SftRecord(p.prompt, p.reference) for p in prompts]
    policy = starting_policy(manifest, records, output_dir, source_dir)
    prompts, dropped = fitting_prompts(prompts, policy.tokenizer, grpo.max_prompt_length)
    parameters = models.parameter_counts(policy.module)
    steps = total_steps(len(prompts), training.batch_size, training.num_epochs, training.max_steps)
    # The KL term's reference: the starting policy (with LoRA, the base weights the adapters
    # share; without, a copy taken before the first step).
    reference = None
    if grpo.beta:
        reference = policy.base if manifest.lora is not None else nnx.clone(policy.base)

    schedule = sft.learning_rate_schedule(training, steps)
    rates = np.broadcast_to(
        np.asarray(jax.device_get(schedule(np.arange(steps))), dtype=np.float64), (steps,)
    )
    checkpoint_root = output_dir / CHECKPOINTS_DIR
    end_of_turn = int(policy.tokenizer.piece_to_id(END_OF_TURN))
    pieces = int(policy.tokenizer.get_piece_size())
    forbidden = tuple(range(pieces, int(models.model_config(policy.spec).num_embed)))
    rollout_class = _rollout_class(end_of_turn, forbidden, training.seed)
    cluster_config = rl_cluster_lib.ClusterConfig(
        role_to_mesh={
            rl_cluster_lib.Role.ACTOR: policy.mesh,
            rl_cluster_lib.Role.REFERENCE: policy.mesh,
            rl_cluster_lib.Role.ROLLOUT: policy.mesh,
        },
        rollout_engine=rollout_class,
        offload_to_cpu=False,
        training_config=rl_cluster_lib.RLTrainingConfig(
            actor_optimizer=sft.build_optimizer(training, schedule),
            eval_every_n_steps=steps + 1,
            max_steps=steps,
            checkpoint_root_directory=str(checkpoint_root.resolve()),
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
    book = RewardBook(manifest.rewards, grpo.num_generations)
    with models.activate(policy.mesh):
        cluster = rl_cluster_lib.RLCluster(
            actor=policy.module,
            reference=reference,
            tokenizer=policy.tokenizer,
            cluster_config=cluster_config,
        )
        learner = grpo_learner.GRPOLearner(
            rl_cluster=cluster,
            algo_config=grpo_learner.GRPOConfig(
                num_generations=grpo.num_generations,
                num_iterations=grpo.num_iterations,
                beta=grpo.beta,
                epsilon=grpo.epsilon,
            ),
            reward_fns=book.tunix_reward_fns(),
        )
        rollout = cluster.rollout
        resumed_at = latest_step(mode_checkpoints(output_dir, "grpo"))
        if resumed_at is not None:  # its samples of the steps it trains again go
            rollouts_until(output_dir / ROLLOUTS_FILE, resumed_at)
        hooks = GrpoHooks(
            book,
            lambda: rollout.generated_tokens.popleft() if rollout.generated_tokens else None,
            grpo,
            rates,
            output_dir / ROLLOUTS_FILE,
            on_step,
        )
        cluster.actor_trainer.with_training_hooks(hooks.tunix_hooks())
        # Every batch from the first: a run resumed from its checkpoints has Tunix's learner
        # skip the batches it already trained on.
        batches = PromptBatches(
            prompts, training.batch_size, steps, training.seed, training.max_minutes, should_stop
        )
        train_start = time.perf_counter()
        batches.started = train_start
        hooks.start_clock(train_start)
        learner.train(batches)
        steps_done = cluster.actor_trainer.train_steps
    train_seconds = time.perf_counter() - train_start
    result = sft.loop_result(
        output_dir,
        manifest,
        stopped=batches.stopped,
        time_limited=batches.time_limited,
        steps_done=steps_done,
        max_steps=steps,
        losses=hooks.losses,
        examples=len(prompts),
        truncated=0,
        dropped=dropped,
        seq_len=grpo.max_prompt_length + grpo.max_tokens_to_generate,
        parameters=parameters,
        devices=int(policy.mesh.devices.size),
        tokens_per_second=hooks.steady_tokens_per_second(),
        setup_seconds=train_start - setup_start,
        train_seconds=train_seconds,
    )
    sft.write_result(output_dir, result)
    return result


__all__ = [
    "GrpoStepMetrics",
    "Prompt",
    "RewardBook",
    "read_prompts",
    "run_grpo",
]
