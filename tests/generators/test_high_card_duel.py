"""High Card Duel: the engine against an independent reading of UNGAR's rules."""

from __future__ import annotations

import importlib.util
import random
import re

import pytest

from tunix_rt.generators.hcd_engine import DECK_SIZE, builtin_deal, card_name, outcome
from tunix_rt.generators.high_card_duel import (
    generate_high_card_duel,
    high_card_duel_trace,
    ungar_status,
)
from tunix_rt.traces.schema import ReasoningTrace

# Independent reimplementation of the rules (UNGAR's order of suits and ranks).
REF_SUITS = ["spades", "hearts", "diamonds", "clubs"]
REF_RANKS = ["ace", "two", "three", "four", "five", "six", "seven"]
REF_RANKS += ["eight", "nine", "ten", "jack", "queen", "king", "joker"]
REF_DECK = [(rank, suit) for suit in REF_SUITS for rank in REF_RANKS]


def ref_value(rank: str) -> int:
    if rank == "joker":
        return 100
    if rank == "ace":
        return 99
    return REF_RANKS.index(rank) + 1


def ref_deal(seed: int) -> tuple[tuple[str, str], tuple[str, str]]:
    deck = list(REF_DECK)
    random.Random(seed).shuffle(deck)
    return deck[0], deck[1]


def ref_result(mine: tuple[str, str], theirs: tuple[str, str]) -> str:
    a, b = ref_value(mine[0]), ref_value(theirs[0])
    return "win" if a > b else "loss" if a < b else "tie"


def test_reference_deck_matches_canonical_indices() -> None:
    assert len(REF_DECK) == DECK_SIZE == 56
    for index, (rank, suit) in enumerate(REF_DECK):
        assert card_name(index) == f"{rank} of {suit}"


def test_every_seed_below_10000_follows_the_rules() -> None:
    traces = list(generate_high_card_duel(10_000, 0, engine="builtin"))
    assert len(traces) == 10_000
    results = set()
    for episode, trace in enumerate(traces):
        mine, theirs = ref_deal(episode)
        expected = ref_result(mine, theirs)
        meta = trace.meta or {}
        assert meta["my_card"] == f"{mine[0]} of {mine[1]}"
        assert meta["opponent_card"] == f"{theirs[0]} of {theirs[1]}"
        assert meta["my_card_index"] == REF_DECK.index(mine)
        assert meta["opponent_card_index"] == REF_DECK.index(theirs)
        assert trace.final_answer == meta["result"] == meta["expected_answer"] == expected
        assert meta["seed"] == 0
        assert meta["episode_index"] == meta["episode_seed"] == episode
        assert meta["source"] == "ungar"
        assert meta["game"] == "high_card_duel"
        results.add(expected)
    assert results == {"win", "loss", "tie"}


def test_episode_i_uses_seed_plus_i() -> None:
    batch = list(generate_high_card_duel(50, 12_345))
    for i, trace in enumerate(batch):
        single = next(generate_high_card_duel(1, 12_345 + i))
        assert (trace.meta or {})["my_card"] == (single.meta or {})["my_card"]
        assert (trace.meta or {})["opponent_card"] == (single.meta or {})["opponent_card"]
        assert trace.prompt == single.prompt
        assert trace.steps == single.steps


COMPARISON = re.compile(r"^(\d+) ([<>=]) (\d+)[,:]")
WORTH = re.compile(r"is an? (\w+)(?:, and an? \w+|, which) is worth (\d+)\.$")


def test_all_ordered_pairs_of_distinct_cards() -> None:
    pairs = 0
    for mine in range(DECK_SIZE):
        for theirs in range(DECK_SIZE):
            if mine == theirs:
                continue
            pairs += 1
            expected = ref_result(REF_DECK[mine], REF_DECK[theirs])
            assert outcome(mine, theirs) == expected
            trace = high_card_duel_trace(7, 0, mine, theirs)
            assert trace.final_answer == expected
            # The steps state both values as numbers and compare them correctly.
            my_value, their_value = ref_value(REF_DECK[mine][0]), ref_value(REF_DECK[theirs][0])
            mine_step, theirs_step = (
                WORTH.search(trace.steps[1].content),
                WORTH.search(trace.steps[2].content),
            )
            assert mine_step and theirs_step
            assert (mine_step[1], int(mine_step[2])) == (REF_DECK[mine][0], my_value)
            assert (theirs_step[1], int(theirs_step[2])) == (REF_DECK[theirs][0], their_value)
            compared = COMPARISON.match(trace.steps[3].content)
            assert compared
            left, sign, right = int(compared[1]), compared[2], int(compared[3])
            assert (left, right) == (my_value, their_value)
            assert sign == {"win": ">", "loss": "<", "tie": "="}[expected]
            assert REF_DECK[mine][1] in trace.prompt and REF_DECK[theirs][1] in trace.prompt
    assert pairs == 56 * 55


def test_outcome_is_antisymmetric_and_ignores_suits() -> None:
    flip = {"win": "loss", "loss": "win", "tie": "tie"}
    for a in range(DECK_SIZE):
        for b in range(DECK_SIZE):
            assert outcome(b, a) == flip[outcome(a, b)]
            same_rank = a % 14 == b % 14
            assert (outcome(a, b) == "tie") == same_rank


def test_same_seed_same_bytes_and_different_seeds_differ() -> None:
    first = [t.model_dump_json().encode() for t in generate_high_card_duel(200, 42)]
    again = [t.model_dump_json().encode() for t in generate_high_card_duel(200, 42)]
    other = [t.model_dump_json().encode() for t in generate_high_card_duel(200, 43)]
    assert first == again
    assert first != other


def test_traces_validate_and_round_trip() -> None:
    for trace in generate_high_card_duel(300, 5):
        assert trace.trace_version == "1.0"
        assert [s.i for s in trace.steps] == list(range(len(trace.steps)))
        assert ReasoningTrace.model_validate_json(trace.model_dump_json()) == trace
        assert "win, loss or tie" in trace.prompt


def test_builtin_deal_matches_reference() -> None:
    for seed in (0, 1, 99, 2**31, 10**12):
        mine, theirs = ref_deal(seed)
        assert builtin_deal(seed) == (REF_DECK.index(mine), REF_DECK.index(theirs))


def test_bad_arguments_raise_generator_error_when_called() -> None:
    from tunix_rt.generators import GeneratorError

    with pytest.raises(GeneratorError):
        generate_high_card_duel(-1, 0)
    with pytest.raises(GeneratorError):
        generate_high_card_duel(1, -5)
    with pytest.raises(GeneratorError):
        generate_high_card_duel(1, 0, engine="nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="card index"):
        outcome(56, 0)


@pytest.mark.skipif(importlib.util.find_spec("ungar") is not None, reason="UNGAR installed")
def test_status_without_ungar() -> None:
    available, version, message = ungar_status()
    assert available is False
    assert version is None
    assert "not installed" in message
