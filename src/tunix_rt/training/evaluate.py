"""Generating and scoring one model of a run over an evaluation's items. Imports JAX and Tunix:
only evaluation workers (and `tunix-rt eval`) import this module.

The trained model is the run's checkpoint; the base model is the run's starting point, built
the way the run built it (`runner.load_base_model`). Each item is generated `num_samples`
times (its copies sit in the same batches), scored as soon as its last sample is back, and
handed to `emit` in batches, so the caller can store and report progress while the rest runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tunix_rt.evals.schema import EvaluationOptions, Subject
from tunix_rt.evals.scoring import SampleScore, ScoredItem, group_values, score_completion
from tunix_rt.evals.targets import EvalItem
from tunix_rt.training.runner import load_base_model, load_checkpoint
from tunix_rt.training.sampler import BatchGenerator, Generation, SamplingConfig


@dataclass(frozen=True)
class SubjectResult:
    items: list[ScoredItem]  # in item order; fewer than asked when stopped
    generation_seconds: float
    wall_seconds: float
    stopped: bool


def sampling_config(options: EvaluationOptions) -> SamplingConfig:
    return SamplingConfig(
        max_new_tokens=options.max_new_tokens,
        temperature=options.temperature,
        top_p=options.top_p,
        top_k=options.top_k,
        batch_size=options.batch_size,
    )


def evaluate_subject(
    output_dir: Path,
    subject: Subject,
    items: Sequence[EvalItem],
    options: EvaluationOptions,
    group_keys: Sequence[str],
    *,
    emit: Callable[[list[tuple[EvalItem, ScoredItem]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SubjectResult:
    """Generate every sample of every item with `subject`'s model and score it."""
    started = time.perf_counter()
    load = load_checkpoint if subject == "trained" else load_base_model
    generator = BatchGenerator(load(output_dir), sampling_config(options))
    samples = options.num_samples
    prompts = [item.prompt for item in items for _ in range(samples)]
    received: dict[int, list[SampleScore | None]] = {}
    done: dict[int, ScoredItem] = {}

    def on_batch(indices: list[int], generations: list[Generation]) -> None:
        finished: list[tuple[EvalItem, ScoredItem]] = []
        for flat, generation in zip(indices, generations, strict=True):
            position, sample = divmod(flat, samples)
            item = items[position]
            slots = received.setdefault(position, [None] * samples)
            slots[sample] = score_completion(
                generation.text,
                expected=item.expected,
                stopped=generation.stopped,
                output_tokens=generation.tokens,
            )
            if all(slot is not None for slot in slots):
                scored = ScoredItem(
                    index=item.index,
                    samples=tuple(slot for slot in slots if slot is not None),
                    group=group_values(item.meta, group_keys),
                )
                done[position] = scored
                finished.append((item, scored))
                del received[position]
        if finished and emit is not None:
            emit(finished)

    generator.generate(prompts, seed=options.seed, on_batch=on_batch, should_stop=should_stop)
    return SubjectResult(
        items=[done[position] for position in sorted(done)],
        generation_seconds=generator.generation_seconds,
        wall_seconds=time.perf_counter() - started,
        stopped=len(done) < len(items),
    )
