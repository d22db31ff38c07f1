"""Training and generation with Tunix: the only package that needs the `train` extra.

`runner`, `models`, `sampler` and `evaluate` import JAX and Tunix; `data` and `tokenizer` need
NumPy and SentencePiece. Only worker processes and the foreground `tunix-rt train` / `eval` /
`datasets inspect` commands import this package; the server never does.
"""
