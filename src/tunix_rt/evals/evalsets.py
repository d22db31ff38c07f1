"""Built-in, versioned eval sets made by the generators with fixed seeds.

A published version never changes: `sha256` pins the canonical JSONL of its items and a
test fails if generator code would alter it (make a `-v2` instead).

How each set is kept apart from training data:
- `arithmetic-v1` and `arithmetic-add-sub-v1` use only held-out problems
  (`arithmetic.is_held_out`), which the training generator never yields for any seed or
  params, so their prompts never occur in generated training traces.
- `high-card-duel-v1` uses episode seeds 1,000,000..1,000,199, inside the range reserved
  for eval sets (the registry refuses training requests that reach it). Only 56 * 55 deals
  exist, so its card pairs do recur in training data; disjointness is by episode seed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import IO

from tunix_rt.errors import NotFoundError
from tunix_rt.generators.arithmetic import (
    EVAL_NAMESPACE,
    OPERATIONS,
    Operation,
    arithmetic_trace,
    draw_problem,
)
from tunix_rt.generators.base import EVAL_SEED_BASE, item_rng
from tunix_rt.generators.high_card_duel import generate_high_card_duel
from tunix_rt.registry import lookup
from tunix_rt.traces.schema import ReasoningTrace

ARITHMETIC_EVAL_SEED = EVAL_SEED_BASE
ARITHMETIC_EVAL_DIGITS: tuple[int, ...] = (2, 3, 4, 5)
ARITHMETIC_EVAL_COUNT = 120
ADD_SUB_EVAL_SEED = EVAL_SEED_BASE + 1
ADD_SUB_EVAL_CELLS: tuple[tuple[Operation, int], ...] = (
    ("add", 2),
    ("sub", 2),
    ("add", 3),
    ("sub", 3),
)
ADD_SUB_EVAL_COUNT = 200
ADD_SUB_2K_EVAL_SEED = EVAL_SEED_BASE + 2
ADD_SUB_2K_EVAL_COUNT = 2000
HIGH_CARD_DUEL_EVAL_SEED = EVAL_SEED_BASE
HIGH_CARD_DUEL_EVAL_COUNT = 200


class UnknownEvalSetError(NotFoundError):
    """No eval set is registered under the requested name."""


@dataclass(frozen=True)
class EvalSetSpec:
    """A built-in eval set, named `<family>-v<version>`."""

    family: str
    version: str
    description: str
    item_count: int
    generator: str
    seed: int
    sha256: str
    build: Callable[[], Iterator[ReasoningTrace]]
    group_by: tuple[str, ...] = ()  # the meta keys an evaluation's breakdown uses

    @property
    def name(self) -> str:
        return f"{self.family}-v{self.version}"


def _held_out_arithmetic(
    seed: int, cells: Sequence[tuple[Operation, int]], distinct_operands: bool = False
) -> Iterator[ReasoningTrace]:
    """Item i is a held-out problem of cell i, distinct from every earlier item (and, with
    `distinct_operands`, not one whose two operands are equal)."""
    seen: set[tuple[Operation, int, int]] = set()
    for index, (operation, digits) in enumerate(cells):
        rng = item_rng(EVAL_NAMESPACE, seed, index)
        problem = draw_problem(rng, operation, digits, held_out=True)
        while problem in seen or (distinct_operands and problem[1] == problem[2]):
            problem = draw_problem(rng, operation, digits, held_out=True)
        seen.add(problem)
        op, a, b = problem
        yield arithmetic_trace(op, a, b, seed=seed, index=index, digits=digits)


def _every_cell(
    operations: Sequence[Operation], digits: Sequence[int]
) -> tuple[tuple[Operation, int], ...]:
    """Each operation with each digit count: operations cycle fastest."""
    return tuple((operation, d) for d in digits for operation in operations)


def _held_out_arithmetic_set(
    family: str,
    seed: int,
    cycle: Sequence[tuple[Operation, int]],
    count: int,
    *,
    sha256: str,
    description: str,
    distinct_operands: bool = False,
) -> EvalSetSpec:
    """Version 1 of a set of `count` held-out arithmetic problems whose cells repeat `cycle`."""
    cells = tuple(cycle[i % len(cycle)] for i in range(count))
    return EvalSetSpec(
        family=family,
        version="1",
        description=description,
        item_count=count,
        generator="arithmetic",
        seed=seed,
        sha256=sha256,
        build=functools.partial(_held_out_arithmetic, seed, cells, distinct_operands),
        group_by=("operation", "digits"),
    )


_SPECS = (
    # Operations cycle add/sub/mul, digits cycle 2..5: 10 distinct problems per pair.
    _held_out_arithmetic_set(
        "arithmetic",
        ARITHMETIC_EVAL_SEED,
        _every_cell(OPERATIONS, ARITHMETIC_EVAL_DIGITS),
        ARITHMETIC_EVAL_COUNT,
        sha256="dd52225cb36eacdb2555d9d8b3053627bfc2846b979bc44cc0d00fe1124cac9f",
        description=(
            "120 held-out arithmetic problems: add, sub and mul with 2-5 digit operands "
            "(10 of each), never produced by the training generator."
        ),
    ),
    # Cells cycle add/sub x 2/3 digits: 50 distinct held-out problems per cell.
    _held_out_arithmetic_set(
        "arithmetic-add-sub",
        ADD_SUB_EVAL_SEED,
        ADD_SUB_EVAL_CELLS,
        ADD_SUB_EVAL_COUNT,
        sha256="8afdfec83251ed3fde2df91993d6583b39a4ebcd1a98ca0c435af9811a0b2df8",
        description=(
            "200 held-out additions and subtractions with 2- and 3-digit operands (50 of "
            "each), never produced by the training generator: the quickstart's yardstick."
        ),
    ),
    # The same cells, 500 problems each: ten times the items, so a change of one point in
    # accuracy is outside the noise (its 95% interval is about +-0.6 points near 98 %). It
    # covers most held-out two-digit problems, so it leaves out `n + n` (and `n - n`): user
    # traces asking those are common, and eval set prompts are kept out of datasets.
    _held_out_arithmetic_set(
        "arithmetic-add-sub-2k",
        ADD_SUB_2K_EVAL_SEED,
        ADD_SUB_EVAL_CELLS,
        ADD_SUB_2K_EVAL_COUNT,
        sha256="5c0253bae8c822074965696de8c77afa3181aa24b1c6f09bdea3269a659627c6",
        distinct_operands=True,
        description=(
            "2,000 held-out additions and subtractions with 2- and 3-digit operands (500 of "
            "each), never produced by the training generator: for changes too small for the "
            "200 of arithmetic-add-sub-v1 (49 of whose problems it shares)."
        ),
    ),
    EvalSetSpec(
        family="high-card-duel",
        version="1",
        description=(
            "200 High Card Duel episodes with seeds 1,000,000-1,000,199 (reserved for "
            "eval sets; disjoint from training episodes by seed)."
        ),
        item_count=HIGH_CARD_DUEL_EVAL_COUNT,
        generator="high-card-duel",
        seed=HIGH_CARD_DUEL_EVAL_SEED,
        sha256="f944f3a9840122f8c80f48df20cc81202316c890a783b77be1cc86c7c4bbb2d8",
        build=functools.partial(
            generate_high_card_duel, HIGH_CARD_DUEL_EVAL_COUNT, HIGH_CARD_DUEL_EVAL_SEED
        ),
        group_by=("result",),
    ),
)

EVAL_SETS: Mapping[str, EvalSetSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def get_eval_set(name: str) -> EvalSetSpec:
    """The registered eval set, or `UnknownEvalSetError`."""
    return lookup(EVAL_SETS, name, "eval set", UnknownEvalSetError)


def iter_eval_set(name: str) -> Iterator[ReasoningTrace]:
    """The items in order; each carries `meta.eval_set` and `meta.eval_index`."""
    spec = get_eval_set(name)
    return _tagged(spec)


def _tagged(spec: EvalSetSpec) -> Iterator[ReasoningTrace]:
    for index, trace in enumerate(spec.build()):
        meta = {**(trace.meta or {}), "eval_set": spec.name, "eval_index": index}
        yield trace.model_copy(update={"meta": meta})


@functools.cache
def eval_prompts() -> frozenset[str]:
    """The prompt of every item of every registered eval set: a dataset build leaves traces
    with these prompts out, so that a held-out set stays held out."""
    return frozenset(trace.prompt for spec in EVAL_SETS.values() for trace in spec.build())


def eval_set_lines(name: str) -> Iterator[bytes]:
    """The set's canonical JSON Lines (`model_dump_json()` + newline per item), which
    `traces import` reads and whose sha256 is pinned for the set."""
    for trace in iter_eval_set(name):
        yield trace.model_dump_json().encode() + b"\n"


def eval_set_digest(name: str) -> str:
    """sha256 of the set's canonical JSON Lines (`eval_set_lines`)."""
    digest = hashlib.sha256()
    for line in eval_set_lines(name):
        digest.update(line)
    return digest.hexdigest()


def write_eval_set(out: IO[bytes], name: str) -> tuple[int, str]:
    """Write the set's canonical JSON Lines to `out`; returns how many items and their sha256
    (the digest pinned for the set), hashed as they are written."""
    digest = hashlib.sha256()
    written = 0
    for line in eval_set_lines(name):
        out.write(line)
        digest.update(line)
        written += 1
    return written, digest.hexdigest()
