"""Greedy generation from a trained run, through Tunix's `Sampler` (for evaluation).

Prompts are the `tunix_sft` `prompt` text (ending in `<start_of_turn>model\\n`); the sampler
prepends BOS once and stops at `<end_of_turn>` or EOS. Imports JAX and Tunix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tunix_rt.tunix.runner import TrainedModel
from tunix_rt.tunix.tokenizer import END_OF_TURN


def generate(
    trained: TrainedModel,
    prompts: Sequence[str],
    max_new_tokens: int,
    *,
    max_prompt_length: int | None = None,
) -> list[str]:
    """The completion of each prompt, greedy, cut before `<end_of_turn>`."""
    from tunix.generate import sampler as sampler_lib

    if not prompts:
        return []
    model: Any = trained.model
    tokenizer = trained.tokenizer
    config = model.config
    longest = max(len(tokenizer.encode(prompt)) + 1 for prompt in prompts)
    prompt_length = max(max_prompt_length or 0, _next_power_of_2(longest))
    sampler = sampler_lib.Sampler(
        model,
        tokenizer,
        sampler_lib.CacheConfig(
            cache_size=prompt_length + max_new_tokens,
            num_layers=config.num_layers,
            num_kv_heads=config.num_kv_heads,
            head_dim=config.head_dim,
        ),
    )
    end_of_turn = int(tokenizer.piece_to_id(END_OF_TURN))
    output = sampler(
        input_strings=list(prompts),
        max_generation_steps=max_new_tokens,
        max_prompt_length=prompt_length,
        temperature=0.0,
        eos_tokens=[end_of_turn, int(tokenizer.eos_id())],
    )
    return [text.split(END_OF_TURN, 1)[0] for text in output.text]


def _next_power_of_2(value: int) -> int:
    return 1 << max(0, value - 1).bit_length()
