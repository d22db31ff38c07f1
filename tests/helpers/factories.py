"""Request bodies and reference values for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tunix_rt.db.functions import seed_constants


def make_trace(
    n: int = 0, *, steps: int | list[dict[str, Any]] = 3, source: str | None = "test", **extra: Any
) -> dict[str, Any]:
    """A valid trace body; `n` makes it distinct. `steps` is a count or the steps themselves."""
    if isinstance(steps, int):
        steps = [{"i": i, "type": "reasoning", "content": f"step {i} of {n}"} for i in range(steps)]
    meta: dict[str, Any] = {"n": n}
    if source is not None:
        meta["source"] = source
    body: dict[str, Any] = {
        "trace_version": "1.0",
        "prompt": f"What is {n} + {n}?",
        "steps": steps,
        "final_answer": str(2 * n),
        "meta": meta,
    }
    body.update(extra)
    return body


def reference_seed_position(seed: str, rank_key: int) -> int:
    """A trace's place in a seed's order, written out independently of the SQL expression in
    `tunix_rt.db.functions.seeded_order` (docs/datasets.md gives the formula)."""
    a1, a2, b = seed_constants(seed)
    prime = 2**31 - 1
    high, low = divmod(rank_key, 2**30)
    return (a1 * high + a2 * low + b) % prime


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """`lines` as a JSON Lines file at `path` (what `tunix-rt traces import` reads)."""
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path
