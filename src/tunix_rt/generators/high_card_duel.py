"""High Card Duel traces: both cards are revealed, the model reasons to win / loss / tie."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Literal

from tunix_rt.generators.base import GeneratorError, check_count_seed, make_trace
from tunix_rt.generators.hcd_engine import (
    ACE_VALUE,
    JOKER_VALUE,
    Outcome,
    builtin_deal,
    card_name,
    card_rank,
    card_value,
    outcome,
)
from tunix_rt.generators.ungar_adapter import probe_ungar
from tunix_rt.traces.schema import ReasoningTrace

Engine = Literal["auto", "builtin", "ungar"]

RULES = (
    "High Card Duel: each player is dealt one card from a 56-card deck (ace to king plus a "
    "joker in each of the four suits) and both cards are revealed. Card values: joker "
    f"{JOKER_VALUE}, ace {ACE_VALUE}, two to king 2 to 13. The higher value wins, equal "
    "values tie, and suits do not matter."
)

_CONCLUSIONS: dict[Outcome, str] = {
    "win": "My card has the higher value, so I win.",
    "loss": "The opponent's card has the higher value, so I lose.",
    "tie": "The values are equal, so the duel is a tie.",
}


def _value_sentence(owner: str, card: int) -> str:
    rank, value = card_rank(card), card_value(card)
    article = "an" if rank[0] in "aeiou" else "a"
    if value in (JOKER_VALUE, ACE_VALUE):
        return f"{owner} is {article} {rank}, and {article} {rank} is worth {value}."
    return f"{owner} is {article} {rank}, which is worth {value}."


def _comparison(mine: int, theirs: int) -> str:
    if mine > theirs:
        return f"{mine} > {theirs}, so my card is higher."
    if mine < theirs:
        return f"{mine} < {theirs}, so the opponent's card is higher."
    return f"{mine} = {theirs}: the values are equal and suits do not matter."


@functools.lru_cache(maxsize=4096)
def _deal_text(my_card: int, opponent_card: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Prompt and steps for one deal (only 56 * 55 deals exist, so this is cached)."""
    mine, theirs = card_name(my_card), card_name(opponent_card)
    prompt = (
        f"{RULES}\nYou are player 0. Your card: the {mine}. Opponent's card: the {theirs}.\n"
        "What is the outcome for you: win, loss or tie?"
    )
    steps = (
        ("observation", f"My card is the {mine} and the opponent's card is the {theirs}."),
        ("evaluation", _value_sentence("My card", my_card)),
        ("evaluation", _value_sentence("The opponent's card", opponent_card)),
        ("comparison", _comparison(card_value(my_card), card_value(opponent_card))),
        ("conclusion", _CONCLUSIONS[outcome(my_card, opponent_card)]),
    )
    return prompt, steps


def _episode_player(engine: Engine) -> Callable[[int], tuple[int, int]]:
    """Return `episode_seed -> (player 0 card, player 1 card)` for the chosen engine."""
    if engine == "builtin":
        return builtin_deal
    if engine not in ("auto", "ungar"):
        raise GeneratorError(f"engine must be 'auto', 'builtin' or 'ungar', got {engine!r}")
    probe = probe_ungar()
    play = probe.play
    if play is None:
        if engine == "ungar":
            raise GeneratorError(probe.message)
        return builtin_deal

    def via_ungar(episode_seed: int) -> tuple[int, int]:
        first, second, result = play(episode_seed)
        if result != outcome(first, second):
            raise GeneratorError(
                f"UNGAR scored episode seed {episode_seed} as {result}, "
                f"the rules say {outcome(first, second)}"
            )
        return first, second

    return via_ungar


def high_card_duel_trace(
    seed: int, episode_index: int, my_card: int, opponent_card: int
) -> ReasoningTrace:
    """The trace for one dealt episode (`seed + episode_index` is the episode seed)."""
    prompt, steps = _deal_text(my_card, opponent_card)
    result = outcome(my_card, opponent_card)
    meta = {
        "source": "ungar",
        "game": "high_card_duel",
        "seed": seed,
        "episode_index": episode_index,
        "episode_seed": seed + episode_index,
        "my_card": card_name(my_card),
        "opponent_card": card_name(opponent_card),
        "my_card_index": my_card,
        "opponent_card_index": opponent_card,
        "result": result,
        "expected_answer": result,
    }
    return make_trace(prompt, steps, result, meta)


def generate_high_card_duel(
    count: int, seed: int, *, engine: Engine = "auto"
) -> Iterator[ReasoningTrace]:
    """`count` traces; episode i uses seed `seed + i`, played through UNGAR when usable.

    Arguments are checked when called (not on first iteration); raises `GeneratorError`.
    """
    check_count_seed(count, seed)
    deal = _episode_player(engine)
    return _episodes(count, seed, deal)


def _episodes(
    count: int, seed: int, deal: Callable[[int], tuple[int, int]]
) -> Iterator[ReasoningTrace]:
    for episode_index in range(count):
        my_card, opponent_card = deal(seed + episode_index)
        yield high_card_duel_trace(seed, episode_index, my_card, opponent_card)


def ungar_status() -> tuple[bool, str | None, str]:
    """`(available, version, message)`: available means episodes are played through UNGAR."""
    probe = probe_ungar()
    return probe.usable, probe.version, probe.message
