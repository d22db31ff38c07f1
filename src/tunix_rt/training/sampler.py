"""Batched generation from a run's model through Tunix's `Sampler` (for evaluation).

Prompts are the `tunix_sft` `prompt` text (ending in `<start_of_turn>model\\n`); the sampler
prepends BOS once and generation stops at `<end_of_turn>`. Imports JAX and Tunix.

A `BatchGenerator` sorts the prompts by length, cuts them into batches of equal size (the last
one filled up with copies of its first prompt, whose outputs are dropped), and left-pads each
batch to a power of two: an evaluation compiles a handful of shapes, one per prompt-length
bucket, instead of one per batch. Every bucket keeps its own Tunix `Sampler` (and KV cache
size: the bucket plus `max_new_tokens`), so its compiled prefill and decode are reused.
Outputs come back in the order of the prompts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunix_rt.training.runner import TrainedModel
from tunix_rt.training.tokenizer import END_OF_TURN

MIN_PROMPT_BUCKET = 16


@dataclass(frozen=True)
class SamplingConfig:
    """How to generate: greedy at temperature 0, else top-p / top-k sampling."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    batch_size: int = 32


@dataclass(frozen=True)
class Generation:
    text: str  # the completion, without `<end_of_turn>`
    tokens: int  # generated tokens, `<end_of_turn>` not counted
    stopped: bool  # generation ended at `<end_of_turn>` (not at max_new_tokens)


def prompt_bucket(length: int) -> int:
    """The padded prompt length of a batch whose longest prompt has `length` tokens."""
    return max(MIN_PROMPT_BUCKET, 1 << max(0, length - 1).bit_length())


def batch_rows(count: int, batch_size: int) -> int:
    """Rows per batch: as few batches as `batch_size` allows, all of the same size (so at
    most one row per batch is filler)."""
    return math.ceil(count / math.ceil(count / batch_size)) if count else batch_size


class BatchGenerator:
    """Generates completions for many prompts with one model and one `SamplingConfig`."""

    def __init__(self, trained: TrainedModel, config: SamplingConfig) -> None:
        self.model: Any = trained.model
        self.tokenizer = trained.tokenizer
        self.config = config
        self.end_of_turn = int(self.tokenizer.piece_to_id(END_OF_TURN))
        # The embedding is rounded up past the tokenizer's pieces; ids beyond them decode to
        # nothing, so the model may never pick them.
        pieces = int(self.tokenizer.get_piece_size())
        self.forbidden = tuple(range(pieces, int(self.model.config.num_embed)))
        self._samplers: dict[int, Any] = {}
        self.generation_seconds = 0.0  # inside the sampler, compilation included

    def _sampler(self, bucket: int) -> Any:
        from tunix.generate import sampler as sampler_lib

        if bucket not in self._samplers:
            config = self.model.config
            self._samplers[bucket] = sampler_lib.Sampler(
                self.model,
                self.tokenizer,
                sampler_lib.CacheConfig(
                    cache_size=bucket + self.config.max_new_tokens,
                    num_layers=config.num_layers,
                    num_kv_heads=config.num_kv_heads,
                    head_dim=config.head_dim,
                ),
            )
        return self._samplers[bucket]

    def prompt_lengths(self, prompts: Sequence[str]) -> list[int]:
        """Tokens per prompt as the sampler sees them (with BOS)."""
        return [len(self.tokenizer.encode(prompt)) + 1 for prompt in prompts]

    def generate(
        self,
        prompts: Sequence[str],
        *,
        seed: int = 0,
        on_batch: Callable[[list[int], list[Generation]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[Generation | None]:
        """One generation per prompt, in order. `on_batch(indices, generations)` follows every
        batch; `should_stop` is polled before each batch (what was not generated is None)."""
        results: list[Generation | None] = [None] * len(prompts)
        if not prompts:
            return results
        lengths = self.prompt_lengths(prompts)
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        rows = batch_rows(len(prompts), self.config.batch_size)
        for number, start in enumerate(range(0, len(order), rows)):
            if should_stop is not None and should_stop():
                break
            indices = order[start : start + rows]
            bucket = prompt_bucket(max(lengths[i] for i in indices))
            batch = [prompts[i] for i in indices]
            batch += [batch[0]] * (rows - len(batch))
            started = time.perf_counter()
            outputs = self._run(batch, bucket, _batch_seed(seed, number))[: len(indices)]
            self.generation_seconds += time.perf_counter() - started
            for index, output in zip(indices, outputs, strict=True):
                results[index] = output
            if on_batch is not None:
                on_batch(indices, outputs)
        return results

    def _run(self, batch: list[str], bucket: int, seed: int) -> list[Generation]:
        config = self.config
        sampling: dict[str, Any] = {}
        if config.temperature > 0:
            sampling = {
                "temperature": config.temperature,
                "top_p": config.top_p if config.top_p is not None else 1.0,
                "top_k": config.top_k,
                "seed": seed,
            }
        output = self._sampler(bucket)(
            input_strings=batch,
            max_generation_steps=config.max_new_tokens,
            max_prompt_length=bucket,
            eos_tokens=[self.end_of_turn],
            forbidden_tokens=self.forbidden or None,
            **sampling,
        )
        generations = []
        for text, tokens in zip(output.text, output.tokens, strict=True):
            count = int(np.asarray(tokens).shape[0])
            generations.append(
                Generation(text=text, tokens=count, stopped=count < config.max_new_tokens)
            )
        return generations


def _batch_seed(seed: int, batch: int) -> int:
    """A sampling seed per batch, derived from the evaluation's seed."""
    return int(np.random.SeedSequence([seed, batch]).generate_state(1)[0] >> 1)


def generate(
    trained: TrainedModel, prompts: Sequence[str], max_new_tokens: int, *, batch_size: int = 32
) -> list[str]:
    """Greedy completions of `prompts`, in order (a convenience over `BatchGenerator`)."""
    generator = BatchGenerator(
        trained, SamplingConfig(max_new_tokens=max_new_tokens, batch_size=batch_size)
    )
    return [g.text if g is not None else "" for g in generator.generate(prompts)]
