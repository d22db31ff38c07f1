"""DPO and ORPO runs: a `preference` JSONL file of (prompt, chosen, rejected) pairs and a
RunManifest (`mode: dpo` or `orpo`) → Tunix's `DPOTrainer`.

The policy is the checkpoint of an earlier run (`model.init_from_run`, resolved by the caller to
that run's output folder), else the model the manifest builds (`training.policy`). `dpo` scores
the pairs against a reference, a frozen copy of the starting policy (with LoRA, the base weights
the adapters share); `orpo` has none. The pairs are tokenized here with the run's tokenizer as
SFT data is (`training.data`): the prompt with one BOS, the responses with no special pieces,
pad id 0; prompts are left-padded and responses right-padded, each to one width for the run (its
longest, rounded up to 16), so the step compiles once. The training loop, loss, jit, sharding,
resumption and checkpoints are Tunix's (`DPOTrainer` is a `PeftTrainer`); the optimizer, the
schedule and the checkpoint options are the SFT runner's.

Every step reports a `DpoStepMetrics` through `on_step`: the loss, and the rewards Tunix logs
(chosen, rejected, their margin and the share of pairs whose chosen reward is the higher). The
output folder has the SFT layout (`runner`'s docstring), plus `init_from.json` for a run started
from another one.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from tunix_rt.runs.manifest import DpoSection, RunManifest
from tunix_rt.training import data as data_lib
from tunix_rt.training import models
from tunix_rt.training import runner as sft
from tunix_rt.training.data import DatasetError, SftRecord
from tunix_rt.training.policy import starting_policy
from tunix_rt.training.tokenizer import PAD_ID

#: The rewards Tunix's DPO loss logs each step, by the name it logs them under.
REWARD_METRICS = {
    "reward_chosen": "rewards/chosen",
    "reward_rejected": "rewards/rejected",
    "reward_margin": "rewards/margin",
    "reward_accuracy": "rewards/accuracy",
}


@dataclasses.dataclass(frozen=True)
class PreferencePair:
    """One record of a `preference` export."""

    trace_id: str
    prompt: str
    chosen: str
    rejected: str


@dataclasses.dataclass(frozen=True)
class DpoStepMetrics(sft.StepMetrics):
    """What one DPO / ORPO step reports, beyond the SFT fields (`tokens` counts the prompt
    twice, the chosen and the rejected response once each: what the step computes on).

    The rewards are Tunix's, averaged over the step's pairs: for `dpo` beta times the policy's
    log-likelihood ratio to the reference of each response; for `orpo` lambda_orpo times the
    response's log-likelihood. `reward_accuracy` is the share of pairs whose chosen reward is
    the higher."""

    reward_chosen: float | None = None
    reward_rejected: float | None = None
    reward_margin: float | None = None
    reward_accuracy: float | None = None

    def summary(self) -> str:
        return f"step {self.step} loss {self.loss:.4f} margin {_number(self.reward_margin)}"

    def log_line(self) -> str:
        return (
            f"{super().log_line()} chosen {_number(self.reward_chosen)} rejected "
            f"{_number(self.reward_rejected)} margin {_number(self.reward_margin)} accuracy "
            f"{_number(self.reward_accuracy, '.2f')}"
        )


def _number(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def read_pairs(path: Path) -> list[PreferencePair]:
    """Every record of a `preference` JSONL file (`prompt`, `chosen`, `rejected`: strings, the
    responses non-empty)."""
    pairs: list[PreferencePair] = []
    for number, row in data_lib.json_rows(path):
        fields = row if isinstance(row, dict) else {}
        prompt, chosen, rejected = (fields.get(name) for name in _TEXT_FIELDS)
        if not (
            isinstance(prompt, str)
            and isinstance(chosen, str)
            and isinstance(rejected, str)
            and chosen
            and rejected
        ):
            raise DatasetError(
                f"{path}:{number}: a preference record needs string fields 'prompt', "
                "'chosen' and 'rejected' (the responses non-empty)"
            )
        metadata = fields.get("metadata") or {}
        trace_id = str(metadata.get("trace_id") or f"line {number}")
        pairs.append(PreferencePair(trace_id, prompt, chosen, rejected))
    return data_lib.some_records(pairs, path)


_TEXT_FIELDS = ("prompt", "chosen", "rejected")


@dataclasses.dataclass(frozen=True)
class PreparedPairs:
    """The pairs that fit, as arrays padded with 0: prompts on the left, responses on the
    right."""

    prompts: np.ndarray  # [N, prompt_len] int32
    chosen: np.ndarray  # [N, response_len] int32
    rejected: np.ndarray  # [N, response_len] int32
    truncated: int  # pairs with a response cut to dpo.max_response_length
    dropped: int  # pairs whose prompt is longer than dpo.max_prompt_length

    @property
    def size(self) -> int:
        return int(self.prompts.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.prompts.shape[1] + self.chosen.shape[1])


def prepare_pairs(
    pairs: Sequence[PreferencePair], tokenizer: Any, dpo: DpoSection
) -> PreparedPairs:
    """Tokenize every pair as `training.data` encodes SFT records; leave out a pair whose prompt
    (BOS included) is longer than `dpo.max_prompt_length`, cut responses to
    `dpo.max_response_length`."""
    kept: list[tuple[list[int], list[int], list[int]]] = []
    truncated = dropped = 0
    limit = dpo.max_response_length
    for pair in pairs:
        prompt, chosen = data_lib.encode_record(tokenizer, SftRecord(pair.prompt, pair.chosen))
        rejected = [int(token) for token in tokenizer.encode(pair.rejected)]
        if len(prompt) > dpo.max_prompt_length:
            dropped += 1
            continue
        truncated += len(chosen) > limit or len(rejected) > limit
        kept.append((prompt, chosen[:limit], rejected[:limit]))
    if not kept:
        raise sft.TrainingError(
            f"every prompt is longer than dpo.max_prompt_length ({dpo.max_prompt_length} tokens)",
            loc=("dpo", "max_prompt_length"),
        )
    prompt_len = _width(max(len(p) for p, _, _ in kept), dpo.max_prompt_length)
    response_len = _width(max(max(len(c), len(r)) for _, c, r in kept), limit)
    prompts = np.full((len(kept), prompt_len), PAD_ID, dtype=np.int32)
    chosen_ids = np.full((len(kept), response_len), PAD_ID, dtype=np.int32)
    rejected_ids = np.full((len(kept), response_len), PAD_ID, dtype=np.int32)
    for row, (prompt, chosen, rejected) in enumerate(kept):
        prompts[row, prompt_len - len(prompt) :] = prompt
        chosen_ids[row, : len(chosen)] = chosen
        rejected_ids[row, : len(rejected)] = rejected
    return PreparedPairs(prompts, chosen_ids, rejected_ids, truncated, dropped)


def _width(longest: int, limit: int) -> int:
    multiple = data_lib.SEQ_LEN_MULTIPLE
    return min(limit, math.ceil(longest / multiple) * multiple)


class PairBatches:
    """`steps` batches of `training.batch_size` pairs in a seeded order (epoch e walks the
    pairs in `numpy.random.default_rng([seed, e])`, batches run on across epochs), this
    process's rows of each, as Tunix's DPO inputs; ends early on `should_stop` (`stopped`) or
    past training.max_minutes (`time_limited`). Tunix skips the batches a resumed run has
    already trained."""

    def __init__(
        self,
        data: PreparedPairs,
        batch_size: int,
        steps: int,
        seed: int,
        rows: slice,
        max_minutes: float | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.data = data
        self.batch_size = batch_size
        self.steps = steps
        self.seed = seed
        self.rows = rows
        self.deadline = None if max_minutes is None else 60 * max_minutes
        self.should_stop = should_stop
        self.step_tokens: list[int] = []
        self.stopped = False
        self.time_limited = False
        self.started = time.perf_counter()

    def start(self) -> float:
        self.started = time.perf_counter()
        return self.started

    def __iter__(self) -> Iterator[Any]:
        from tunix.sft.dpo import dpo_trainer

        order: list[int] = []
        epoch = 0
        for step in range(self.steps):
            if self.should_stop is not None and self.should_stop():
                self.stopped = True
                return
            elapsed = time.perf_counter() - self.started
            if step and self.deadline is not None and elapsed > self.deadline:
                self.time_limited = True
                return
            while len(order) < self.batch_size:
                permutation = np.random.default_rng([self.seed, epoch]).permutation(self.data.size)
                order.extend(permutation.tolist())
                epoch += 1
            index = np.asarray(order[: self.batch_size], dtype=np.int64)
            del order[: self.batch_size]
            prompts = self.data.prompts[index]
            chosen, rejected = self.data.chosen[index], self.data.rejected[index]
            self.step_tokens.append(
                int(2 * np.count_nonzero(prompts) + np.count_nonzero(chosen))
                + int(np.count_nonzero(rejected))
            )
            prompts, chosen, rejected = prompts[self.rows], chosen[self.rows], rejected[self.rows]
            yield dpo_trainer.TrainingInput(
                prompt_ids=prompts,
                prompt_mask=(prompts != PAD_ID).astype(np.int32),
                chosen_ids=chosen,
                chosen_mask=(chosen != PAD_ID).astype(np.int32),
                rejected_ids=rejected,
                rejected_mask=(rejected != PAD_ID).astype(np.int32),
            )


class DpoHooks(sft.MetricsHooks):
    """The SFT runner's hooks, reporting `DpoStepMetrics` with the rewards Tunix's DPO loss
    logged for the step."""

    metrics_class = DpoStepMetrics

    def extra_metrics(self, train_ctx: Any) -> dict[str, Any]:
        logger, prefix = train_ctx.metrics_logger, train_ctx.metrics_prefix
        return {
            field: sft.last_metric(logger, prefix, name) for field, name in REWARD_METRICS.items()
        }


def run_dpo(
    manifest: RunManifest,
    *,
    dataset_jsonl: Path,
    output_dir: Path,
    source_dir: Path | None = None,
    on_step: Callable[[DpoStepMetrics], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> sft.TrainingResult:
    """Train `manifest` (mode dpo or orpo) on the pairs of `dataset_jsonl` with Tunix's
    DPOTrainer; write into `output_dir`. `source_dir` is the output folder of
    model.init_from_run's run. `on_step` and `should_stop` behave as in `runner.run_training`;
    an `output_dir` that holds checkpoints of the same manifest resumes from the latest."""
    from tunix.sft.dpo import dpo_trainer

    setup_start = time.perf_counter()
    manifest = manifest.resolved()
    training, dpo = manifest.training, manifest.dpo
    assert dpo is not None
    output_dir.mkdir(parents=True, exist_ok=True)
    pairs = read_pairs(dataset_jsonl)
    texts = [SftRecord(p.prompt, p.chosen) for p in pairs]
    texts += [SftRecord(p.prompt, p.rejected) for p in pairs]
    policy = starting_policy(manifest, texts, output_dir, source_dir)
    data = prepare_pairs(pairs, policy.tokenizer, dpo)
    parameters = models.parameter_counts(policy.module)
    steps = data_lib.total_steps(
        data.size, training.batch_size, training.num_epochs, training.max_steps
    )
    reference = None
    if manifest.mode == "dpo":
        reference = policy.base if manifest.lora is not None else nnx.clone(policy.base)

    schedule = sft.learning_rate_schedule(training, steps)
    checkpoint_dir = sft.checkpoint_dir(output_dir, manifest)
    config = dpo_trainer.DPOTrainingConfig(
        algorithm=manifest.mode,
        beta=dpo.beta if dpo.beta is not None else 0.0,
        lambda_orpo=dpo.lambda_orpo if dpo.lambda_orpo is not None else 0.0,
        label_smoothing=dpo.label_smoothing,
        max_prompt_length=dpo.max_prompt_length,
        max_response_length=dpo.max_response_length,
        eval_every_n_steps=steps,
        max_steps=steps,
        checkpoint_root_directory=str(checkpoint_dir.resolve()),
        checkpointing_options=sft.checkpoint_options(training, steps),
        data_sharding_axis=("fsdp",),
        pbar_description=None,
    )
    rows = data_lib.process_rows(training.batch_size, jax.process_index(), jax.process_count())
    batches = PairBatches(
        data,
        training.batch_size,
        steps,
        training.seed,
        rows,
        training.max_minutes,
        should_stop,
    )
    with models.activate(policy.mesh):
        trainer = dpo_trainer.DPOTrainer(
            policy.module, reference, sft.build_optimizer(training, schedule), config
        )
        hooks = DpoHooks(schedule, steps, batches.step_tokens, on_step)  # type: ignore[arg-type]
        trainer.with_training_hooks(hooks.tunix_hooks())
        restored = trainer.train_steps
        train_start = batches.start()
        trainer.train(iter(batches))
        steps_done = trainer.train_steps
    train_seconds = time.perf_counter() - train_start
    result = sft.loop_result(
        output_dir,
        manifest,
        stopped=batches.stopped,
        time_limited=batches.time_limited,
        steps_done=steps_done,
        max_steps=steps,
        losses=hooks.losses,
        examples=data.size,
        truncated=data.truncated,
        dropped=data.dropped,
        seq_len=data.seq_len,
        parameters=parameters,
        devices=int(policy.mesh.devices.size),
        tokens_per_second=hooks.steady_tokens_per_second(restored),
        setup_seconds=train_start - setup_start,
        train_seconds=train_seconds,
    )
    sft.write_result(output_dir, result)
    return result


__all__ = [
    "DpoStepMetrics",
    "PairBatches",
    "PreferencePair",
    "PreparedPairs",
    "prepare_pairs",
    "read_pairs",
    "run_dpo",
]
