"""Training and generation with Tunix: the only package that needs the `train` extra.

`runner`, `grpo`, `models`, `sampler` and `evaluate` import JAX and Tunix; `data` and
`tokenizer` need NumPy and SentencePiece. Only worker processes and the foreground
`tunix-rt train` / `eval` / `datasets inspect` commands import this package; the server never
does.

- `runner`: a `tunix_sft` file and a `RunManifest` -> a Tunix SFT run, in reusable steps
- `grpo`: prompts with expected answers and a `mode: grpo` manifest -> Tunix's GRPOLearner
- `models`: the tiny model built in code, local checkpoints, LoRA, the mesh
- `tokenizer`: SentencePiece tokenizers trained on a run's data or loaded from disk
- `data`: token ids, loss masks and deterministic, length-bucketed batches
- `sampler`: batched generation through Tunix's `Sampler`
- `evaluate`: generating and scoring one model of a run over an evaluation's items
"""

__all__ = ["data", "evaluate", "grpo", "models", "runner", "sampler", "tokenizer"]
