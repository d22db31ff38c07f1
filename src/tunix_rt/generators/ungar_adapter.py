"""Optional adapter that plays High Card Duel through UNGAR when `import ungar` works.

UNGAR is not on PyPI. When it is installed, `probe_ungar()` checks once that its deals match
the built-in engine (56-card deck, same seed -> same cards); if they do not (some UNGAR
versions deal from 52 cards), the built-in engine is used and the status says why.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tunix_rt.generators.hcd_engine import Outcome, builtin_deal, card_name, outcome

PROBE_SEEDS = range(64)

UngarEpisode = tuple[int, int, Outcome]
"""Player 0's card, player 1's card (canonical indices) and player 0's result."""


@dataclass(frozen=True)
class UngarProbe:
    """What was found: whether UNGAR is installed, usable, its version and a message."""

    installed: bool
    usable: bool
    version: str | None
    message: str
    play: Callable[[int], UngarEpisode] | None = None


def _version(module: Any) -> str | None:
    try:
        return importlib.metadata.version("ungar")
    except importlib.metadata.PackageNotFoundError:
        pass
    value = getattr(module, "__version__", None)
    if value is None and callable(getattr(module, "get_version", None)):
        value = module.get_version()
    return str(value) if value is not None else None


def _make_player(games: Any, runner: Any) -> Callable[[int], UngarEpisode]:
    spec = games.make_high_card_duel_spec()

    def play(episode_seed: int) -> UngarEpisode:
        episode = runner.play_random_episode(spec, seed=episode_seed)
        first, second = episode.states[-1].hands
        reward = float(episode.rewards[0])
        result: Outcome = "win" if reward > 0 else "loss" if reward < 0 else "tie"
        return int(first.to_index()), int(second.to_index()), result

    return play


def _mismatch(play: Callable[[int], UngarEpisode]) -> str | None:
    """Describe the first probe seed where UNGAR disagrees with the built-in rules."""
    for seed in PROBE_SEEDS:
        first, second, result = play(seed)
        expected = builtin_deal(seed)
        if (first, second) != expected:
            return (
                f"seed {seed}: UNGAR deals {card_name(first)} / {card_name(second)}, "
                f"the 56-card rules deal {card_name(expected[0])} / {card_name(expected[1])}"
            )
        if result != outcome(first, second):
            return f"seed {seed}: UNGAR scores {result}, the rules say {outcome(first, second)}"
    return None


@functools.cache
def probe_ungar() -> UngarProbe:
    """Import UNGAR (once) and check it deals like the built-in engine."""
    try:
        ungar = importlib.import_module("ungar")
        games = importlib.import_module("ungar.games.high_card_duel")
        runner = importlib.import_module("ungar.runner")
    except ImportError:
        return UngarProbe(
            installed=False,
            usable=False,
            version=None,
            message="UNGAR is not installed; High Card Duel uses the built-in engine "
            "(same cards for the same seed).",
        )
    version = _version(ungar)
    label = f"UNGAR {version}" if version else "UNGAR"
    try:
        play = _make_player(games, runner)
        mismatch = _mismatch(play)
    except Exception as exc:  # third-party API drift must not break generation
        mismatch = f"its High Card Duel API is not the expected one ({type(exc).__name__}: {exc})"
    if mismatch is not None:
        return UngarProbe(
            installed=True,
            usable=False,
            version=version,
            message=f"{label} is installed but not used: {mismatch}; "
            "High Card Duel uses the built-in engine.",
        )
    return UngarProbe(
        installed=True,
        usable=True,
        version=version,
        message=f"{label} is installed; High Card Duel episodes are played through it.",
        play=play,
    )


def reset_ungar_cache() -> None:
    """Forget the cached probe (tests and long-lived processes after an install)."""
    probe_ungar.cache_clear()
