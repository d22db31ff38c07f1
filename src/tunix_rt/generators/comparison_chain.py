"""Comparison-chain traces: "A is taller than B, C is shorter than B ... who is tallest?".

The facts are the adjacent pairs of a hidden order, shuffled and phrased either way round,
so exactly one answer follows. Steps restate each fact one way, chain them and conclude.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from tunix_rt.generators.base import (
    check_choice,
    check_count_seed,
    check_int_range,
    item_rng,
    make_trace,
)
from tunix_rt.traces.schema import ReasoningTrace

MIN_PEOPLE = 3
MAX_PEOPLE = 8
DEFAULT_PEOPLE = 4
QUESTIONS: tuple[str, ...] = ("most", "least", "mixed")
DEFAULT_QUESTION = "mixed"
NAMESPACE = "comparison-chain"


@dataclass(frozen=True)
class Attribute:
    """One comparable property, e.g. taller / shorter / tallest / shortest."""

    more: str
    less: str
    most: str
    least: str


ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("taller", "shorter", "tallest", "shortest"),
    Attribute("older", "younger", "oldest", "youngest"),
    Attribute("faster", "slower", "fastest", "slowest"),
    Attribute("heavier", "lighter", "heaviest", "lightest"),
)

NAMES: tuple[str, ...] = (
    "Alice", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tara",
    "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip


def chain_steps(
    order: list[str], facts: list[tuple[str, str, bool]], attr: Attribute, ask_most: bool
) -> tuple[list[tuple[str, str]], str]:
    """Steps and answer for facts `(x, y, stated_as_more)` meaning x is `more` than y.

    `order` runs from most to least; each fact relates two neighbours in it.
    """
    steps: list[tuple[str, str]] = []
    for number, (high, low, as_more) in enumerate(facts, start=1):
        if as_more:
            text = f"Fact {number}: {high} is {attr.more} than {low}."
        else:
            text = (
                f"Fact {number}: {low} is {attr.less} than {high}, "
                f"so {high} is {attr.more} than {low}."
            )
        steps.append(("restate", text))
    top = order[0]
    steps.append(
        (
            "observation",
            f"{top} is never said to be {attr.less} than anyone, so {top} is the {attr.most}.",
        )
    )
    for high, low in itertools.pairwise(order):
        steps.append(("chain", f"Next: {high} is {attr.more} than {low}."))
    ranking = " > ".join(order)
    steps.append(("ordering", f"From {attr.most} to {attr.least}: {ranking}."))
    answer = order[0] if ask_most else order[-1]
    superlative = attr.most if ask_most else attr.least
    steps.append(("conclusion", f"The {superlative} is {answer}."))
    return steps, answer


def comparison_chain_trace(rng_seed: int, index: int, people: int, question: str) -> ReasoningTrace:
    """Item `index` of a request with seed `rng_seed`."""
    rng = item_rng(NAMESPACE, rng_seed, index)
    attr = rng.choice(ATTRIBUTES)
    order = rng.sample(NAMES, people)
    ask_most = rng.random() < 0.5 if question == "mixed" else question == "most"
    facts = [(high, low, rng.random() < 0.5) for high, low in itertools.pairwise(order)]
    rng.shuffle(facts)
    statements = [
        f"{high} is {attr.more} than {low}." if as_more else f"{low} is {attr.less} than {high}."
        for high, low, as_more in facts
    ]
    superlative = attr.most if ask_most else attr.least
    prompt = f"{' '.join(statements)} Who is the {superlative}?"
    steps, answer = chain_steps(order, facts, attr, ask_most)
    meta = {
        "source": "comparison_chain",
        "task": "comparison_chain",
        "attribute": attr.more,
        "question": "most" if ask_most else "least",
        "people": people,
        "order": order,
        "seed": rng_seed,
        "index": index,
        "expected_answer": answer,
    }
    return make_trace(prompt, steps, answer, meta)


def generate_comparison_chain(
    count: int, seed: int, *, people: int = DEFAULT_PEOPLE, question: str = DEFAULT_QUESTION
) -> Iterator[ReasoningTrace]:
    """`count` puzzles over `people` people; `question` is `most`, `least` or `mixed`."""
    check_count_seed(count, seed)
    check_int_range("people", people, MIN_PEOPLE, MAX_PEOPLE)
    check_choice("question", question, QUESTIONS)
    return (comparison_chain_trace(seed, index, people, question) for index in range(count))
