"""The UNGAR adapter against small stand-ins that expose UNGAR's public API.

UNGAR is not on PyPI, so these stand-ins (written to a temp dir) mirror its module layout:
`ungar.games.high_card_duel.make_high_card_duel_spec`, `ungar.runner.play_random_episode`
returning an episode with `states` (last state has `hands`) and `rewards`, and cards with
`to_index()`. The 52-card variant mirrors UNGAR versions that drop the jokers.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tunix_rt.generators import GeneratorError
from tunix_rt.generators.high_card_duel import generate_high_card_duel, ungar_status
from tunix_rt.generators.ungar_adapter import reset_ungar_cache

FAKE_UNGAR = {
    "__init__.py": """
        CALLS = []

        def get_version():
            return "0.0.0-test"
    """,
    "cards.py": """
        from dataclasses import dataclass
        from enum import Enum, auto

        class Suit(Enum):
            SPADES = auto()
            HEARTS = auto()
            DIAMONDS = auto()
            CLUBS = auto()

        class Rank(Enum):
            ACE = auto()
            TWO = auto()
            THREE = auto()
            FOUR = auto()
            FIVE = auto()
            SIX = auto()
            SEVEN = auto()
            EIGHT = auto()
            NINE = auto()
            TEN = auto()
            JACK = auto()
            QUEEN = auto()
            KING = auto()
            JOKER = auto()

        @dataclass(frozen=True)
        class Card:
            suit: Suit
            rank: Rank

            def to_index(self):
                return list(Suit).index(self.suit) * len(Rank) + list(Rank).index(self.rank)

        def all_cards():
            return tuple(Card(s, r) for s in Suit for r in Rank)
    """,
    "games/__init__.py": "",
    "games/high_card_duel.py": """
        from dataclasses import dataclass
        from random import Random

        from ungar.cards import Rank, all_cards

        JOKERS = {jokers}

        def high_card_value(card):
            if card.rank is Rank.JOKER:
                return 100
            if card.rank is Rank.ACE:
                return 99
            return card.rank.value

        @dataclass(frozen=True)
        class State:
            hands: tuple
            revealed: tuple

            def is_terminal(self):
                return all(self.revealed)

            def returns(self):
                v0, v1 = (high_card_value(c) for c in self.hands)
                return (1.0, -1.0) if v0 > v1 else (-1.0, 1.0) if v1 > v0 else (0.0, 0.0)

        @dataclass(frozen=True)
        class HighCardDuelSpec:
            name: str
            num_players: int

            def initial_state(self, seed=None):
                deck = [c for c in all_cards() if JOKERS or c.rank is not Rank.JOKER]
                Random(seed).shuffle(deck)
                return State(hands=(deck[0], deck[1]), revealed=(False, False))

        def make_high_card_duel_spec():
            return HighCardDuelSpec(name="high_card_duel", num_players=2)
    """,
    "runner.py": """
        from dataclasses import dataclass

        import ungar

        @dataclass
        class Episode:
            states: list
            moves: list
            rewards: tuple

        def play_random_episode(spec, seed=None):
            ungar.CALLS.append(seed)
            state = spec.initial_state(seed=seed)
            end = type(state)(hands=state.hands, revealed=(True, True))
            return Episode(states=[state, end], moves=["reveal", "reveal"], rewards=end.returns())
    """,
}


def _forget_ungar() -> None:
    for name in [m for m in sys.modules if m == "ungar" or m.startswith("ungar.")]:
        del sys.modules[name]
    reset_ungar_cache()


@pytest.fixture
def install_fake_ungar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., None]]:
    def install(*, jokers: bool = True, broken: bool = False) -> None:
        root = tmp_path / ("jokers" if jokers else "no-jokers") / ("broken" if broken else "ok")
        for rel, body in FAKE_UNGAR.items():
            if broken and rel == "runner.py":
                body = "def something_else():\n    pass\n"
            path = root / "ungar" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(body).replace("{jokers}", str(jokers)))
        monkeypatch.syspath_prepend(str(root))
        _forget_ungar()

    yield install
    _forget_ungar()


def _dump(count: int, seed: int, engine: str) -> list[bytes]:
    traces = generate_high_card_duel(count, seed, engine=engine)  # type: ignore[arg-type]
    return [t.model_dump_json().encode() for t in traces]


def test_compatible_ungar_is_used_and_gives_identical_traces(
    install_fake_ungar: Callable[..., None],
) -> None:
    install_fake_ungar(jokers=True)
    available, version, message = ungar_status()
    assert available is True
    assert version == "0.0.0-test"
    assert "played through it" in message
    seen_seeds = importlib.import_module("ungar").CALLS  # the stand-in records episode seeds
    seen_seeds.clear()
    via_ungar = _dump(500, 77, "auto")
    assert seen_seeds == list(range(77, 577))
    assert via_ungar == _dump(500, 77, "ungar") == _dump(500, 77, "builtin")


def test_52_card_ungar_is_detected_and_not_used(install_fake_ungar: Callable[..., None]) -> None:
    install_fake_ungar(jokers=False)
    available, version, message = ungar_status()
    assert available is False
    assert version == "0.0.0-test"
    assert "not used" in message and "built-in engine" in message
    assert _dump(100, 3, "auto") == _dump(100, 3, "builtin")
    with pytest.raises(GeneratorError, match="not used"):
        generate_high_card_duel(1, 0, engine="ungar")


def test_ungar_with_another_api_falls_back(install_fake_ungar: Callable[..., None]) -> None:
    install_fake_ungar(broken=True)
    available, version, message = ungar_status()
    assert available is False
    assert version == "0.0.0-test"
    assert "built-in engine" in message
    assert _dump(20, 0, "auto") == _dump(20, 0, "builtin")


def test_ungar_engine_requested_but_missing() -> None:
    _forget_ungar()
    if ungar_status()[0]:
        pytest.skip("a usable UNGAR is installed")
    with pytest.raises(GeneratorError):
        generate_high_card_duel(1, 0, engine="ungar")
