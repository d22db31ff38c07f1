"""High Card Duel rules and the built-in engine (same deals as UNGAR for the same seed).

Cards are canonical indices 0..55: `suit_index * 14 + rank_index`, suits and ranks in
UNGAR's order. An episode with seed S shuffles the canonical deck with
`random.Random(S).shuffle`; player 0 gets `deck[0]`, player 1 gets `deck[1]`.
"""

from __future__ import annotations

import random
from typing import Literal

SUITS: tuple[str, ...] = ("spades", "hearts", "diamonds", "clubs")
RANKS: tuple[str, ...] = (
    "ace",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "jack",
    "queen",
    "king",
    "joker",
)
DECK_SIZE = len(SUITS) * len(RANKS)  # 56
JOKER_VALUE = 100
ACE_VALUE = 99

Outcome = Literal["win", "loss", "tie"]
OUTCOMES: tuple[Outcome, ...] = ("win", "loss", "tie")

_CANONICAL_DECK: tuple[int, ...] = tuple(range(DECK_SIZE))


def _check_card(card: int) -> None:
    if isinstance(card, bool) or not isinstance(card, int) or not 0 <= card < DECK_SIZE:
        raise ValueError(f"card index must be an integer in [0, {DECK_SIZE - 1}], got {card!r}")


def card_rank(card: int) -> str:
    """Rank name of a card, e.g. `queen`."""
    _check_card(card)
    return RANKS[card % len(RANKS)]


def card_suit(card: int) -> str:
    """Suit name of a card, e.g. `hearts`."""
    _check_card(card)
    return SUITS[card // len(RANKS)]


def card_name(card: int) -> str:
    """Readable name, e.g. `queen of hearts` or `joker of clubs`."""
    return f"{card_rank(card)} of {card_suit(card)}"


def card_value(card: int) -> int:
    """Joker 100, ace 99, otherwise the rank number (two = 2 ... king = 13)."""
    _check_card(card)
    rank_index = card % len(RANKS)
    if rank_index == len(RANKS) - 1:
        return JOKER_VALUE
    if rank_index == 0:
        return ACE_VALUE
    return rank_index + 1


def outcome(my_card: int, opponent_card: int) -> Outcome:
    """Result for the holder of `my_card`: higher value wins, equal values tie."""
    mine, theirs = card_value(my_card), card_value(opponent_card)
    if mine > theirs:
        return "win"
    if mine < theirs:
        return "loss"
    return "tie"


def builtin_deal(episode_seed: int) -> tuple[int, int]:
    """Cards of player 0 and player 1 for one episode, as UNGAR deals them."""
    deck = list(_CANONICAL_DECK)
    random.Random(episode_seed).shuffle(deck)
    return deck[0], deck[1]
