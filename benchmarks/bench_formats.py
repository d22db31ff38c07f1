"""Renderer + line-encoder throughput per export format.

Builds synthetic traces shaped like typical stored ones (3-6 steps of 50-300 characters, a
small meta), then times `encode_line(renderer(trace_id, payload, system))` over all of them for
each format, after a warm-up pass. Prints JSON `{format: traces_per_second}`.

    python benchmarks/bench_formats.py [--traces 100000] [--repeat 3] [--system TEXT]

The best of `--repeat` runs is reported, as is usual for micro-benchmarks.
"""

from __future__ import annotations

import argparse
import random
import string
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from tunix_rt.formats import FORMATS, encode_line, renderer_for

_WORDS = [
    "".join(random.Random(n).choices(string.ascii_lowercase, k=1 + n % 9)) for n in range(512)
]


def _text(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    words: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:target]


def synthetic_traces(count: int, seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """`count` (trace_id, payload) pairs, deterministic for a given seed."""
    rng = random.Random(seed)
    traces = []
    for n in range(count):
        steps = [
            {"i": i, "type": "reasoning", "content": _text(rng, 50, 300)}
            for i in range(rng.randint(3, 6))
        ]
        payload = {
            "trace_version": "1",
            "prompt": _text(rng, 40, 200) + "?",
            "steps": steps,
            "final_answer": _text(rng, 1, 40),
            "meta": {"source": "bench", "seed": n, "difficulty": rng.choice(["easy", "hard"])},
        }
        traces.append((str(uuid.UUID(int=rng.getrandbits(128), version=4)), payload))
    return traces


def bench(
    fmt: str, traces: Sequence[tuple[str, dict[str, Any]]], system: str | None, repeat: int
) -> float:
    """Best traces/second over `repeat` passes of render + encode."""
    render_one = renderer_for(fmt)
    for trace_id, payload in traces[: min(len(traces), 1000)]:  # warm-up
        encode_line(render_one(trace_id, payload, system))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for trace_id, payload in traces:
            encode_line(render_one(trace_id, payload, system))
        best = min(best, time.perf_counter() - started)
    return len(traces) / best


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--system", default=None, help="system instruction passed to renderers")
    args = parser.parse_args(argv)
    traces = synthetic_traces(args.traces)
    results = {fmt: round(bench(fmt, traces, args.system, args.repeat)) for fmt in FORMATS}
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
