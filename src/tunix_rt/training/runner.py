"""The training runner: a `tunix_sft` JSONL file and a RunManifest → a Tunix SFT run.

One entry point, `run_training`, over one config object, the `RunManifest`. It trains with
Tunix's own `PeftTrainer` (the training loop, loss, jit, sharding and orbax checkpointing are
Tunix's), and adds only what a run registry needs around it: data preparation, per-step
metrics through `on_step`, a clean stop through `should_stop`, and a self-contained output
directory. Its steps are functions of their own: `prepare_data` (tokenizer and examples),
`build_run_model`, `sft_trainer` with `TrainBatches` and `MetricsHooks`, `training_result`
and `write_result`. Imports JAX and Tunix; the server never imports this module.

Output directory layout (nothing is written anywhere else):

    run.yaml            the manifest with every default filled in
    tokenizer.model     the SentencePiece model the run used (trained here for `tiny`)
    model_config.json   the architecture, to rebuild the model for `load_checkpoint`
    checkpoints/<step>/ Tunix / orbax checkpoints (LoRA params only when LoRA is on)
    result.json         the TrainingResult, written when the run ends
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import jax
import numpy as np
import optax
from flax import nnx

from tunix_rt.atomic_file import atomic_file
from tunix_rt.errors import InvalidInputError
from tunix_rt.runs.manifest import RunManifest, TrainingSection
from tunix_rt.runs.paths import CHECKPOINTS_DIR, latest_step, mode_checkpoints
from tunix_rt.training import data as data_lib
from tunix_rt.training import models
from tunix_rt.training.tokenizer import PAD_ID, load_tokenizer, train_tokenizer

RUN_MANIFEST = "run.yaml"
TOKENIZER_FILE = "tokenizer.model"
MODEL_CONFIG_FILE = "model_config.json"
RESULT_FILE = "result.json"
#: A run started from another run's checkpoint (`model.init_from_run`) names it here: that
#: run's output folder (relative to this one) and step, its starting point.
INIT_FROM_FILE = "init_from.json"


@dataclasses.dataclass(frozen=True)
class StepMetrics:
    """What one optimizer step reports (through `on_step`)."""

    step: int  # 1-based optimizer step
    loss: float  # mean NLL over the batch's completion tokens
    learning_rate: float  # the rate this step used
    tokens: int  # non-padding tokens in the step's batch (all processes)
    tokens_per_second: float  # tokens / wall time since the previous step (step 1: + compile)
    elapsed_seconds: float  # since the training loop started
    eval_loss: float | None = None  # mean eval loss when the run evaluated after this step

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """The step in a few words, for a progress bar."""
        return f"step {self.step} loss {self.loss:.4f} {self.tokens_per_second:,.0f} tok/s"

    def log_line(self) -> str:
        """The step's line in the run's log."""
        line = (
            f"step {self.step} loss {self.loss:.4f} lr {self.learning_rate:.3g} "
            f"tokens/s {self.tokens_per_second:.0f}"
        )
        return line if self.eval_loss is None else f"{line} eval_loss {self.eval_loss:.4f}"


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """How a run ended and where its artifacts are."""

    status: Literal["completed", "stopped"]
    steps: int  # optimizer steps done (including ones restored from an earlier run)
    max_steps: int  # steps the run was planned for
    time_limited: bool  # training.max_minutes ended it before max_steps (status completed)
    first_loss: float | None
    final_loss: float | None
    initial_eval_loss: float | None  # before the first step, when eval is on
    final_eval_loss: float | None
    losses: list[float]  # one per step run by this call, in order
    output_dir: Path
    checkpoint_dir: Path
    checkpoint_step: int | None
    tokenizer_path: Path
    manifest_path: Path
    train_examples: int
    eval_examples: int
    truncated_examples: int  # cut to training.max_seq_length (their completion loses its end)
    dropped_examples: int  # prompt alone reaches training.max_seq_length
    seq_len: int  # the padded length of the longest batches (each is cut to its length bucket)
    parameters: int
    trained_parameters: int
    devices: int
    tokens_per_second: float | None  # steady state: steps 2.. (step 1 includes compilation)
    setup_seconds: float  # tokenizer, data, model, before the training loop
    train_seconds: float  # the training loop, including compilation and the last checkpoint

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = str(value)
        return out


class TrainingError(InvalidInputError):
    """A run that cannot start with this manifest, data or machine."""


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """A model reloaded from a run's output directory, ready for `sampler.generate`."""

    model: nnx.Module
    tokenizer: Any  # sentencepiece.SentencePieceProcessor
    manifest: RunManifest
    spec: models.ModelSpec
    step: int
    mesh: jax.sharding.Mesh


def learning_rate_schedule(training: TrainingSection, steps: int) -> optax.Schedule:
    """`constant`, or `warmup_cosine`: linear warmup from 0 over `warmup_steps` (default 10% of
    the steps), then cosine decay to `min_lr_ratio` of the peak (default 10%) at the last step."""
    peak = training.learning_rate
    if training.lr_schedule == "constant":
        return optax.constant_schedule(peak)
    warmup = training.warmup_steps if training.warmup_steps is not None else steps // 10
    warmup = min(warmup, steps - 1)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=peak,
        warmup_steps=warmup,
        decay_steps=max(steps, warmup + 1),
        end_value=peak * training.min_lr_ratio,
    )


def build_optimizer(training: TrainingSection, schedule: optax.Schedule) -> Any:
    """AdamW with the schedule injected (so Tunix can log the rate), after global-norm clipping."""
    adamw = optax.inject_hyperparams(optax.adamw)(
        learning_rate=schedule, weight_decay=training.weight_decay
    )
    if training.max_grad_norm is None:
        return adamw
    return optax.chain(optax.clip_by_global_norm(training.max_grad_norm), adamw)


def model_inputs(batch: Any) -> dict[str, Any]:
    """TrainingInput → the loss function's inputs: causal attention over non-padding tokens
    and positions counted from the first token, both derived from `tokens != 0`."""
    from tunix.sft import utils as sft_utils

    not_pad = batch.input_tokens != PAD_ID
    return {
        "input_tokens": batch.input_tokens,
        "input_mask": batch.input_mask,
        "positions": sft_utils.build_positions_from_mask(not_pad),
        "attention_mask": sft_utils.make_causal_attn_mask(not_pad),
    }


class MetricsHooks:
    """Tunix TrainingHooks → StepMetrics. Tunix reports step n's loss once step n+1 has been
    dispatched (and the last one when the loop closes); eval runs between the two, so an eval
    after step n is attached to step n's metrics."""

    def __init__(
        self,
        schedule: optax.Schedule,
        steps: int,
        step_tokens: list[int],
        on_step: Callable[[StepMetrics], None] | None,
    ) -> None:
        # The rate of every step, computed once: calling the (JAX) schedule per step costs
        # milliseconds, a few percent of a tiny model's step.
        rates = np.asarray(jax.device_get(schedule(np.arange(steps))), dtype=np.float64)
        self.rates = np.broadcast_to(rates, (steps,))  # a constant schedule gives a scalar
        self.step_tokens = step_tokens
        self.on_step = on_step
        self.losses: list[float] = []
        self.step_times: list[float] = []
        self.initial_eval_loss: float | None = None
        self.last_eval_loss: float | None = None
        self._pending_eval: tuple[int, float] | None = None
        self.start = time.perf_counter()
        self._last = self.start

    def tunix_hooks(self) -> Any:
        from tunix.sft import hooks

        outer = self

        class Hooks(hooks.TrainingHooks):  # type: ignore[misc]
            def on_train_start(self, train_ctx: Any) -> None:
                outer.start = outer._last = time.perf_counter()

            def on_train_end(self, train_ctx: Any) -> None:
                pass

            def on_train_step_start(self, train_ctx: Any) -> None:
                pass

            def on_train_step_end(self, train_ctx: Any, train_step: int, train_loss: Any) -> None:
                outer.step_end(int(train_step), float(train_loss), outer.extra_metrics(train_ctx))

            def on_eval_step_start(self, train_ctx: Any) -> None:
                pass

            def on_eval_step_end(self, train_ctx: Any, eval_loss: Any) -> None:
                history = train_ctx.metrics_logger.get_metric_history(
                    train_ctx.metrics_prefix, "loss", "eval"
                )
                outer.eval_end(int(train_ctx.train_steps), float(history[-1]))

        return Hooks()

    #: What `step_end` reports: StepMetrics, or a subclass with the fields of `extra_metrics`.
    metrics_class: type[StepMetrics] = StepMetrics

    def extra_metrics(self, train_ctx: Any) -> dict[str, Any]:
        """The fields beyond StepMetrics' of the step just reported, read from the trainer (its
        metrics logger holds that step's values): none here."""
        return {}

    def eval_end(self, step: int, loss: float) -> None:
        self.last_eval_loss = loss
        if step == 0:
            self.initial_eval_loss = loss
        else:
            self._pending_eval = (step, loss)

    def step_end(self, step: int, loss: float, extra: dict[str, Any] | None = None) -> None:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        tokens = self.step_tokens[step - 1] if step <= len(self.step_tokens) else 0
        eval_loss = None
        if self._pending_eval is not None and self._pending_eval[0] == step:
            eval_loss = self._pending_eval[1]
            self._pending_eval = None
        self.losses.append(loss)
        self.step_times.append(now)
        if self.on_step is not None:
            self.on_step(
                self.metrics_class(
                    step=step,
                    loss=loss,
                    learning_rate=float(self.rates[min(step, len(self.rates)) - 1]),
                    tokens=tokens,
                    tokens_per_second=tokens / elapsed if elapsed > 0 else 0.0,
                    elapsed_seconds=now - self.start,
                    eval_loss=eval_loss,
                    **(extra or {}),
                )
            )

    def steady_tokens_per_second(self, first_step: int) -> float | None:
        """Tokens of steps 2.. over their wall time (step 1 carries the compilation)."""
        if len(self.step_times) < 2:
            return None
        tokens = sum(self.step_tokens[first_step + 1 : first_step + len(self.step_times)])
        seconds = self.step_times[-1] - self.step_times[0]
        return tokens / seconds if seconds > 0 else None


def prepare_tokenizer(manifest: RunManifest, records: list[data_lib.SftRecord], out: Path) -> Any:
    target = out / TOKENIZER_FILE
    assert manifest.tokenizer is not None
    source: Path | None = None
    if manifest.tokenizer.path is not None:
        source = Path(manifest.tokenizer.path)
    elif manifest.model.source == "local":
        assert manifest.model.path is not None
        source = Path(manifest.model.path) / TOKENIZER_FILE
        if not source.is_file():
            raise TrainingError(
                f"{source} does not exist: set tokenizer.path to the model's SentencePiece file",
                loc=("tokenizer", "path"),
            )
    if source is None:
        texts = [text for record in records for text in (record.prompt, record.completion)]
        return train_tokenizer(
            texts,
            target,
            vocab_size=manifest.tokenizer.vocab_size,
            seed=manifest.training.seed,
        )
    processor = load_tokenizer(source)
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return processor


def run_training(
    manifest: RunManifest,
    *,
    dataset_jsonl: Path,
    output_dir: Path,
    eval_jsonl: Path | None = None,
    on_step: Callable[[StepMetrics], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train `manifest` on `dataset_jsonl` with Tunix's PeftTrainer; write into `output_dir`.

    - The eval split is `eval_jsonl` when given, else (with training.eval_every_n_steps) the
      last training.eval_fraction of `dataset_jsonl`; without either, no eval. Eval runs
      before the first step and every eval_every_n_steps (default with `eval_jsonl`: at the
      last step).
    - `on_step` is called once per optimizer step, in order, from the training thread.
    - `should_stop` is polled before each step; once it returns True the loop ends, Tunix saves
      a final checkpoint, and the result's status is `stopped`. Past `training.max_minutes` of
      training the loop ends the same way, as `completed` with `time_limited` set.
    - An `output_dir` that already holds checkpoints of the same manifest resumes from the
      latest one (Tunix restores it and skips the batches already trained).
    - The same manifest and data on the same machine give the same losses.

    The steps (data, model, trainer, batches, result) are the functions below it.
    """
    setup_start = time.perf_counter()
    manifest = manifest.resolved()
    training = manifest.training
    output_dir.mkdir(parents=True, exist_ok=True)

    data = prepare_data(manifest, output_dir, dataset_jsonl, eval_jsonl)
    model = build_run_model(manifest, data.tokenizer, output_dir)
    parameters = models.parameter_counts(model.module)
    checkpoint_dir = output_dir / CHECKPOINTS_DIR
    schedule = learning_rate_schedule(training, data.steps)
    trainer = sft_trainer(model.module, training, schedule, data.steps, checkpoint_dir)
    rows = data_lib.process_rows(training.batch_size, jax.process_index(), jax.process_count())
    batches = TrainBatches(data.train, training, data.steps, rows, should_stop)
    hooks = MetricsHooks(schedule, data.steps, batches.step_tokens, on_step)
    trainer.with_training_hooks(hooks.tunix_hooks())
    restored_steps = trainer.train_steps
    eval_inputs = None if data.eval is None else eval_batches(data.eval, training.batch_size, rows)

    train_start = batches.start()
    with models.activate(model.mesh), partial_checkpoints_removed(checkpoint_dir):
        trainer.train(iter(batches), eval_inputs)
    train_seconds = time.perf_counter() - train_start

    result = training_result(
        output_dir,
        manifest,
        data,
        model,
        hooks,
        batches,
        parameters=parameters,
        steps_done=trainer.train_steps,
        restored_steps=restored_steps,
        setup_seconds=train_start - setup_start,
        train_seconds=train_seconds,
    )
    write_result(output_dir, result)
    return result


@dataclasses.dataclass(frozen=True)
class RunData:
    """A run's examples, tokenized with the run's tokenizer, and the steps they make."""

    tokenizer: Any  # sentencepiece.SentencePieceProcessor
    train: data_lib.PreparedData
    eval: data_lib.PreparedData | None
    truncated_examples: int  # of both files, cut to training.max_seq_length
    dropped_examples: int  # of both files, whose prompt alone reaches it
    steps: int  # the optimizer steps the run is planned for


def prepare_data(
    manifest: RunManifest, output_dir: Path, dataset_jsonl: Path, eval_jsonl: Path | None
) -> RunData:
    """Read the JSONL files, get the run's tokenizer (into `output_dir`), tokenize, and split
    off the eval examples (`eval_jsonl`, else the last eval_fraction when eval is on)."""
    training = manifest.training
    records = data_lib.read_records(dataset_jsonl)
    eval_records = data_lib.read_records(eval_jsonl) if eval_jsonl is not None else []
    processor = prepare_tokenizer(manifest, records + eval_records, output_dir)
    data = data_lib.prepare(records, processor, training.max_seq_length)
    truncated, dropped = data.truncated, data.dropped
    eval_data: data_lib.PreparedData | None
    if eval_jsonl is not None:
        train_data = data
        eval_data = data_lib.prepare(eval_records, processor, training.max_seq_length)
        truncated, dropped = truncated + eval_data.truncated, dropped + eval_data.dropped
    elif training.eval_every_n_steps is not None:
        train_data, eval_data = data_lib.split_eval(data, training.eval_fraction)
    else:
        train_data, eval_data = data, None
    steps = data_lib.total_steps(
        train_data.size, training.batch_size, training.num_epochs, training.max_steps
    )
    return RunData(processor, train_data, eval_data, truncated, dropped, steps)


@dataclasses.dataclass(frozen=True)
class RunModel:
    """A run's model on its device mesh, and its architecture."""

    module: nnx.Module
    mesh: jax.sharding.Mesh
    spec: models.ModelSpec


def build_run_model(manifest: RunManifest, tokenizer: Any, output_dir: Path) -> RunModel:
    """The model `manifest` trains (the tiny one sized to `tokenizer`, or the local checkpoint),
    on the manifest's mesh; writes the resolved manifest and the architecture to `output_dir`."""
    assert manifest.mesh is not None
    mesh = models.create_mesh(manifest.mesh)
    if manifest.model.source == "local":
        assert manifest.model.path is not None
        spec = models.local_spec(manifest.model.model_id, Path(manifest.model.path))
    else:
        spec = models.tiny_spec(
            int(tokenizer.get_piece_size()),
            layers=manifest.model.tiny_layers,
            width=manifest.model.tiny_width,
        )
    config = models.model_config(spec)
    if tokenizer.get_piece_size() > config.num_embed:
        raise TrainingError(
            f"the tokenizer has {tokenizer.get_piece_size()} pieces, the model embeds only "
            f"{config.num_embed}",
            loc=("tokenizer", "path"),
        )
    if jax.process_index() == 0:
        write_whole(output_dir / RUN_MANIFEST, manifest.to_yaml(resolved=True))
        write_whole(output_dir / MODEL_CONFIG_FILE, spec.to_json())
    return RunModel(models.build_model(manifest, spec, mesh), mesh, spec)


def sft_trainer(
    module: nnx.Module,
    training: TrainingSection,
    schedule: optax.Schedule,
    steps: int,
    checkpoint_dir: Path,
) -> Any:
    """Tunix's PeftTrainer for `steps` steps, checkpointing into `checkpoint_dir` (resuming from
    the latest checkpoint there)."""
    from tunix.sft import peft_trainer

    return peft_trainer.PeftTrainer(
        module,
        build_optimizer(training, schedule),
        peft_trainer.TrainingConfig(
            eval_every_n_steps=training.eval_every_n_steps or steps,
            max_steps=steps,
            checkpoint_root_directory=str(checkpoint_dir),
            checkpointing_options=checkpoint_options(training, steps),
            data_sharding_axis=("fsdp",),
            pbar_description=None,
        ),
    ).with_gen_model_input_fn(model_inputs)


class TrainBatches:
    """The training batches in the seeded plan's order, this process's rows of each; ends early
    when `should_stop` says so (`stopped`) or past training.max_minutes (`time_limited`)."""

    def __init__(
        self,
        data: data_lib.PreparedData,
        training: TrainingSection,
        steps: int,
        rows: slice,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.data = data
        self.training = training
        self.steps = steps
        self.rows = rows
        self.should_stop = should_stop
        self.step_tokens: list[int] = []  # non-padding tokens of each batch given, in order
        self.stopped = False
        self.time_limited = False
        self.started = time.perf_counter()

    def start(self) -> float:
        """Mark the start of the training loop (training.max_minutes counts from here)."""
        self.started = time.perf_counter()
        return self.started

    def __iter__(self) -> Iterator[Any]:
        from tunix.sft import peft_trainer

        training = self.training
        deadline = None if training.max_minutes is None else 60 * training.max_minutes
        plan = data_lib.batch_plan(
            self.data.lengths, training.batch_size, training.seed, self.data.seq_len
        )
        for step in range(self.steps):
            if self.should_stop is not None and self.should_stop():
                self.stopped = True
                return
            # A time limit ends training after a step, never before the first one: a run whose
            # set-up outlasted its limit still trains once and leaves a checkpoint.
            if step and deadline is not None and time.perf_counter() - self.started > deadline:
                self.time_limited = True
                return
            index, width = next(plan)
            tokens, mask = self.data.tokens[index, :width], self.data.mask[index, :width]
            self.step_tokens.append(int(np.count_nonzero(tokens)))
            yield peft_trainer.TrainingInput(
                input_tokens=tokens[self.rows], input_mask=mask[self.rows]
            )


def eval_batches(data: data_lib.PreparedData, batch_size: int, rows: slice) -> list[Any]:
    """The eval examples as Tunix inputs, this process's rows of each batch."""
    from tunix.sft import peft_trainer

    return [
        peft_trainer.TrainingInput(input_tokens=tokens[rows], input_mask=mask[rows])
        for tokens, mask in data_lib.eval_batches(data, batch_size)
    ]


def training_result(
    output_dir: Path,
    manifest: RunManifest,
    data: RunData,
    model: RunModel,
    hooks: MetricsHooks,
    batches: TrainBatches,
    *,
    parameters: tuple[int, int],
    steps_done: int,
    restored_steps: int,
    setup_seconds: float,
    train_seconds: float,
) -> TrainingResult:
    """How the run ended: `steps_done` of the planned steps, what the hooks and batches saw."""
    return loop_result(
        output_dir,
        manifest,
        stopped=batches.stopped,
        time_limited=batches.time_limited,
        steps_done=steps_done,
        max_steps=data.steps,
        losses=hooks.losses,
        examples=data.train.size,
        truncated=data.truncated_examples,
        dropped=data.dropped_examples,
        seq_len=data.train.seq_len,
        parameters=parameters,
        devices=int(model.mesh.devices.size),
        tokens_per_second=hooks.steady_tokens_per_second(restored_steps),
        setup_seconds=setup_seconds,
        train_seconds=train_seconds,
        eval_examples=data.eval.size if data.eval is not None else 0,
        initial_eval_loss=hooks.initial_eval_loss,
        final_eval_loss=hooks.last_eval_loss,
    )


def loop_result(
    output_dir: Path,
    manifest: RunManifest,
    *,
    stopped: bool,
    time_limited: bool,
    steps_done: int,
    max_steps: int,
    losses: list[float],
    examples: int,
    truncated: int,
    dropped: int,
    seq_len: int,
    parameters: tuple[int, int],
    devices: int,
    tokens_per_second: float | None,
    setup_seconds: float,
    train_seconds: float,
    eval_examples: int = 0,
    initial_eval_loss: float | None = None,
    final_eval_loss: float | None = None,
) -> TrainingResult:
    """How a run ended: the status, losses, checkpoint and paths derived from what its loop saw
    (the eval split's size and losses for an SFT run that has one)."""
    checkpoints = checkpoint_dir(output_dir, manifest)
    return TrainingResult(
        status="stopped" if stopped and steps_done < max_steps else "completed",
        steps=steps_done,
        max_steps=max_steps,
        time_limited=time_limited,
        first_loss=losses[0] if losses else None,
        final_loss=losses[-1] if losses else None,
        initial_eval_loss=initial_eval_loss,
        final_eval_loss=final_eval_loss,
        losses=list(losses),
        output_dir=output_dir,
        checkpoint_dir=checkpoints,
        checkpoint_step=latest_step(checkpoints),
        tokenizer_path=output_dir / TOKENIZER_FILE,
        manifest_path=output_dir / RUN_MANIFEST,
        train_examples=examples,
        eval_examples=eval_examples,
        truncated_examples=truncated,
        dropped_examples=dropped,
        seq_len=seq_len,
        parameters=parameters[0],
        trained_parameters=parameters[1],
        devices=devices,
        tokens_per_second=tokens_per_second,
        setup_seconds=setup_seconds,
        train_seconds=train_seconds,
    )


def write_result(output_dir: Path, result: TrainingResult) -> None:
    """`result.json` (process 0 only)."""
    if jax.process_index() == 0:
        write_whole(
            output_dir / RESULT_FILE, json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
        )


def write_whole(path: Path, text: str) -> None:
    """Write a run file whole or not at all (a full disk leaves the old file, or none)."""
    with atomic_file(path) as out:
        out.write(text.encode())


#: How orbax names a checkpoint (or a part of one) still being written.
PARTIAL_CHECKPOINT_MARK = ".orbax-checkpoint-tmp"


@contextlib.contextmanager
def partial_checkpoints_removed(checkpoint_dir: Path) -> Iterator[None]:
    """When the block raises (a checkpoint that could not be written: a full disk), remove
    the checkpoints orbax left half-written under `checkpoint_dir`, and the space they hold;
    the finished ones stay. (A killed process leaves its partial one: orbax ignores it.)"""
    try:
        yield
    except BaseException:
        if jax.process_index() == 0 and checkpoint_dir.is_dir():
            for path in checkpoint_dir.iterdir():
                if PARTIAL_CHECKPOINT_MARK in path.name and path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
        raise


def checkpoint_options(training: TrainingSection, steps: int) -> Any:
    import orbax.checkpoint as ocp

    every = training.checkpoint_every_n_steps or steps
    return ocp.CheckpointManagerOptions(
        save_interval_steps=every, max_to_keep=training.checkpoints_to_keep
    )


def last_metric(logger: Any, prefix: str, name: str) -> float | None:
    """The last value Tunix's metrics logger holds of a training metric, or None."""
    try:
        history = logger.get_metric_history(prefix, name, "train")
    except (KeyError, ValueError):
        return None
    return float(history[-1]) if len(history) else None


def load_checkpoint(
    output_dir: Path, *, step: int | None = None, mesh_shape: tuple[int, int] | None = None
) -> TrainedModel:
    """Rebuild a run's model from `output_dir` and restore its checkpoint (the latest, or
    `step`) with Tunix's checkpoint manager. The mesh is the run's when this machine has as
    many devices, else `mesh_shape`, else all devices along `fsdp`."""
    from tunix.sft import checkpoint_manager

    output_dir = output_dir.resolve()  # orbax wants absolute paths
    model, processor, manifest, spec = _rebuild(output_dir, mesh_shape)
    checkpoints = checkpoint_dir(output_dir, manifest)
    manager = checkpoint_manager.CheckpointManager(str(checkpoints))
    try:
        with models.activate(model.mesh):
            restored, _ = manager.maybe_restore(
                model.module, step=step, restore_only_lora_params=manifest.lora is not None
            )
    finally:
        manager.close()
    if restored == 0:
        raise TrainingError(f"{checkpoints} holds no checkpoint")
    return TrainedModel(
        model=model.module,
        tokenizer=processor,
        manifest=manifest,
        spec=spec,
        step=restored,
        mesh=model.mesh,
    )


def load_full_checkpoint(
    output_dir: Path, *, step: int | None = None, mesh_shape: tuple[int, int] | None = None
) -> TrainedModel:
    """`load_checkpoint`, with a LoRA run's adapters folded into its weights: the model without
    adapters that computes what the run's does, for another run to start from."""
    trained = load_checkpoint(output_dir, step=step, mesh_shape=mesh_shape)
    lora = trained.manifest.lora
    if lora is None:
        return trained
    merged = models.merge_lora(trained.model, lora, trained.spec)
    return dataclasses.replace(trained, model=merged)


def checkpoint_dir(output_dir: Path, manifest: RunManifest) -> Path:
    """Where a run of `manifest` keeps its checkpoints."""
    return mode_checkpoints(output_dir, manifest.mode)


def init_source(output_dir: Path) -> tuple[Path, int] | None:
    """The output folder and step a run started from (`INIT_FROM_FILE`), or None."""
    path = output_dir / INIT_FROM_FILE
    if not path.is_file():
        return None
    source = json.loads(path.read_text())
    return (output_dir / source["output_dir"]).resolve(), int(source["step"])


def load_base_model(output_dir: Path, *, mesh_shape: tuple[int, int] | None = None) -> TrainedModel:
    """The run's starting point, with the run's tokenizer: the model as the run built it before
    its first step (the tiny model's initialisation from the same seed; the local checkpoint,
    with fresh LoRA adapters when the run used LoRA, which leave its outputs unchanged; the
    checkpoint of the run it started from)."""
    model, processor, manifest, spec = _rebuild(output_dir.resolve(), mesh_shape)
    return TrainedModel(
        model=model.module,
        tokenizer=processor,
        manifest=manifest,
        spec=spec,
        step=0,
        mesh=model.mesh,
    )


def _rebuild(
    output_dir: Path, mesh_shape: tuple[int, int] | None
) -> tuple[RunModel, Any, RunManifest, models.ModelSpec]:
    manifest_file = output_dir / RUN_MANIFEST
    if not manifest_file.is_file():
        raise TrainingError(f"{output_dir} holds no run ({RUN_MANIFEST} is missing)")
    manifest = RunManifest.from_yaml(manifest_file.read_text()).resolved()
    assert manifest.mesh is not None
    spec = models.ModelSpec.from_json((output_dir / MODEL_CONFIG_FILE).read_text())
    processor = load_tokenizer(output_dir / TOKENIZER_FILE)
    mesh_section = manifest.mesh
    if mesh_shape is not None:
        mesh_section = mesh_section.model_copy(update={"shape": list(mesh_shape)})
    elif mesh_section.device_count != jax.device_count():
        mesh_section = mesh_section.model_copy(
            update={"shape": [jax.device_count(), 1], "axis_names": ["fsdp", "tp"]}
        )
    mesh = models.create_mesh(mesh_section)
    source = init_source(output_dir)
    if source is None:
        module = models.build_model(manifest, spec, mesh)
    else:
        source_dir, step = source
        module = load_full_checkpoint(
            source_dir, step=step, mesh_shape=(mesh_section.shape[0], mesh_section.shape[1])
        ).model
        if manifest.lora is not None:
            module = models.apply_lora(module, manifest.lora, mesh, manifest.training.seed)
    return RunModel(module, mesh, spec), processor, manifest, spec


__all__ = [
    "MetricsHooks",
    "RunData",
    "RunModel",
    "StepMetrics",
    "TrainBatches",
    "TrainedModel",
    "TrainingError",
    "TrainingResult",
    "build_run_model",
    "eval_batches",
    "load_base_model",
    "load_checkpoint",
    "load_full_checkpoint",
    "loop_result",
    "prepare_data",
    "run_training",
    "sft_trainer",
    "training_result",
    "write_result",
    "write_whole",
]
