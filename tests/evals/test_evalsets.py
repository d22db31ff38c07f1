"""Built-in eval sets: sizes, determinism, pinned contents and disjointness from training."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable

import pytest

from tunix_rt.errors import NotFoundError
from tunix_rt.evals.answers import answer_match
from tunix_rt.evals.evalsets import (
    ADD_SUB_EVAL_CELLS,
    EVAL_SETS,
    UnknownEvalSetError,
    _held_out_arithmetic,
    eval_set_digest,
    eval_set_lines,
    get_eval_set,
    iter_eval_set,
    write_eval_set,
)
from tunix_rt.generators import DEFAULT_SEED, EVAL_SEED_BASE, EVAL_SEED_END, generate
from tunix_rt.generators.arithmetic import OPERATIONS, is_held_out
from tunix_rt.traces.schema import ReasoningTrace

TRAINING_ITEMS = 10_000


def test_registry() -> None:
    assert set(EVAL_SETS) == {
        "arithmetic-v1",
        "arithmetic-add-sub-v1",
        "arithmetic-add-sub-2k-v1",
        "high-card-duel-v1",
    }
    for name, spec in EVAL_SETS.items():
        assert spec.name == name == f"{spec.family}-v{spec.version}"
        assert spec.description
        assert 50 <= spec.item_count <= 2000
        assert EVAL_SEED_BASE <= spec.seed < EVAL_SEED_END


@pytest.mark.parametrize("name", sorted(EVAL_SETS))
def test_size_determinism_and_pinned_digest(name: str) -> None:
    spec = get_eval_set(name)
    first = [t.model_dump_json().encode() for t in iter_eval_set(name)]
    second = [t.model_dump_json().encode() for t in iter_eval_set(name)]
    assert len(first) == spec.item_count
    assert first == second
    # A published version must never change; a failure here means "make a -v2".
    assert eval_set_digest(name) == spec.sha256


@pytest.mark.parametrize("name", sorted(EVAL_SETS))
def test_the_written_set_is_its_canonical_lines(name: str) -> None:
    spec = get_eval_set(name)
    out = io.BytesIO()
    assert write_eval_set(out, name) == (spec.item_count, spec.sha256)
    assert out.getvalue() == b"".join(eval_set_lines(name))
    expected = [t.model_dump_json().encode() for t in iter_eval_set(name)]
    assert out.getvalue().splitlines() == expected
    assert hashlib.sha256(out.getvalue()).hexdigest() == spec.sha256


@pytest.mark.parametrize("name", sorted(EVAL_SETS))
def test_items_are_valid_tagged_and_self_consistent(name: str) -> None:
    for index, trace in enumerate(iter_eval_set(name)):
        assert ReasoningTrace.model_validate_json(trace.model_dump_json()) == trace
        meta = trace.meta or {}
        assert meta["eval_set"] == name and meta["eval_index"] == index
        assert answer_match(trace.final_answer, meta["expected_answer"]).matched


@pytest.mark.parametrize(
    ("name", "cells", "per_cell"),
    [
        ("arithmetic-v1", [(op, d) for op in OPERATIONS for d in (2, 3, 4, 5)], 10),
        ("arithmetic-add-sub-v1", [(op, d) for op in ("add", "sub") for d in (2, 3)], 50),
        ("arithmetic-add-sub-2k-v1", [(op, d) for op in ("add", "sub") for d in (2, 3)], 500),
    ],
)
def test_arithmetic_composition(name: str, cells: list[tuple[str, int]], per_cell: int) -> None:
    traces = list(iter_eval_set(name))
    counts: dict[tuple[str, int], int] = {}
    for trace in traces:
        meta = trace.meta or {}
        assert is_held_out(meta["operation"], *meta["operands"])
        key = (meta["operation"], meta["digits"])
        counts[key] = counts.get(key, 0) + 1
    assert counts == dict.fromkeys(cells, per_cell)
    assert len({t.prompt for t in traces}) == len(traces)


def test_the_2k_set_asks_no_n_plus_or_minus_n() -> None:
    # It holds most held-out two-digit problems, so `What is 25 + 25?` (a trace a user, or a
    # test, may well write) would otherwise be an eval prompt and be left out of datasets.
    def equal_operands(traces: Iterable[ReasoningTrace]) -> list[str]:
        return [t.prompt for t in traces if len(set((t.meta or {})["operands"])) == 1]

    assert equal_operands(iter_eval_set("arithmetic-add-sub-2k-v1")) == []
    spec = get_eval_set("arithmetic-add-sub-2k-v1")
    cells = [ADD_SUB_EVAL_CELLS[i % 4] for i in range(spec.item_count)]
    assert equal_operands(_held_out_arithmetic(spec.seed, cells))  # the same draws would


def test_arithmetic_v1_is_disjoint_from_training() -> None:
    eval_prompts = {t.prompt for t in iter_eval_set("arithmetic-v1")}
    # Structural guarantee: every eval problem is held out, and training never yields one.
    for trace in iter_eval_set("arithmetic-v1"):
        meta = trace.meta or {}
        assert is_held_out(meta["operation"], *meta["operands"])
    # Empirical check on the default seed: default params plus every eval cell.
    training = {t.prompt for t in generate("arithmetic", TRAINING_ITEMS, DEFAULT_SEED)}
    assert len(training) > 9_000
    for operation in OPERATIONS:
        for digits in (2, 3, 4, 5):
            batch = generate("arithmetic", 2_000, DEFAULT_SEED, digits=digits, operation=operation)
            training |= {t.prompt for t in batch}
    assert eval_prompts.isdisjoint(training)


def test_high_card_duel_v1_is_disjoint_by_episode_seed() -> None:
    eval_seeds = {(t.meta or {})["episode_seed"] for t in iter_eval_set("high-card-duel-v1")}
    assert eval_seeds == set(range(1_000_000, 1_000_200))
    assert eval_seeds <= set(range(EVAL_SEED_BASE, EVAL_SEED_END))
    training = {(t.meta or {})["episode_seed"] for t in generate("high-card-duel", TRAINING_ITEMS)}
    assert training == set(range(DEFAULT_SEED, DEFAULT_SEED + TRAINING_ITEMS))
    assert eval_seeds.isdisjoint(training)
    # Only 56 * 55 deals exist, so card pairs themselves are not disjoint (documented).
    results = {t.final_answer for t in iter_eval_set("high-card-duel-v1")}
    assert results == {"win", "loss", "tie"}


def test_unknown_eval_set() -> None:
    with pytest.raises(UnknownEvalSetError) as info:
        iter_eval_set("chess-v1")
    assert isinstance(info.value, NotFoundError) and not isinstance(info.value, KeyError)
    assert str(info.value) == (
        "unknown eval set 'chess-v1' "
        "(known: arithmetic-add-sub-2k-v1, arithmetic-add-sub-v1, arithmetic-v1, "
        "high-card-duel-v1)"
    )
    with pytest.raises(UnknownEvalSetError):
        get_eval_set("arithmetic-v2")
