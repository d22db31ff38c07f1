"""Comparison chains: an independent solver reads the prompt and must agree with the trace."""

from __future__ import annotations

import itertools
import re

import pytest

from tunix_rt.generators import GeneratorError
from tunix_rt.generators.comparison_chain import ATTRIBUTES, generate_comparison_chain

STATEMENT = re.compile(r"(\w+) is (\w+) than (\w+)\.")
QUESTION = re.compile(r"Who is the (\w+)\?$")


def solve_prompt(prompt: str) -> tuple[str, list[str]]:
    """Answer and the full order (most first), worked out from the prompt alone."""
    question = QUESTION.search(prompt)
    assert question
    superlative = question[1]
    attr = next(a for a in ATTRIBUTES if superlative in (a.most, a.least))
    above: dict[str, str] = {}  # person -> the one directly more than them
    people: set[str] = set()
    for x, word, y in STATEMENT.findall(prompt):
        people |= {x, y}
        if word == attr.more:
            high, low = x, y
        else:
            assert word == attr.less
            high, low = y, x
        assert low not in above
        above[low] = high
    (top,) = people - set(above)
    below = {high: low for low, high in above.items()}
    order = [top]
    while order[-1] in below:
        order.append(below[order[-1]])
    assert len(order) == len(people)
    return (order[0] if superlative == attr.most else order[-1]), order


@pytest.mark.parametrize("people", range(3, 9))
def test_answers_follow_from_the_prompt(people: int) -> None:
    for seed in (0, 1, 2024):
        for trace in generate_comparison_chain(100, seed, people=people):
            answer, order = solve_prompt(trace.prompt)
            meta = trace.meta or {}
            assert trace.final_answer == meta["expected_answer"] == answer
            assert meta["order"] == order and meta["people"] == people
            assert meta["source"] == "comparison_chain"
            restated = [s.content for s in trace.steps if s.type == "restate"]
            assert len(restated) == people - 1
            chain = [s.content for s in trace.steps if s.type == "chain"]
            assert chain == [
                f"Next: {h} is {meta['attribute']} than {lo}."
                for h, lo in itertools.pairwise(order)
            ]
            assert trace.steps[-1].content.endswith(f"is {answer}.")


def test_question_param() -> None:
    most = [t.meta["question"] for t in generate_comparison_chain(50, 0, question="most") if t.meta]
    least = [
        t.meta["question"] for t in generate_comparison_chain(50, 0, question="least") if t.meta
    ]
    mixed = {t.meta["question"] for t in generate_comparison_chain(50, 0) if t.meta}
    assert set(most) == {"most"} and set(least) == {"least"} and mixed == {"most", "least"}


def test_determinism() -> None:
    one = [t.model_dump_json().encode() for t in generate_comparison_chain(100, 9)]
    two = [t.model_dump_json().encode() for t in generate_comparison_chain(100, 9)]
    other = [t.model_dump_json().encode() for t in generate_comparison_chain(100, 10)]
    assert one == two and one != other
    assert [t.model_dump_json().encode() for t in generate_comparison_chain(10, 9)] == one[:10]


@pytest.mark.parametrize("kwargs", [{"people": 2}, {"people": 9}, {"question": "who"}])
def test_bad_params(kwargs: dict[str, object]) -> None:
    with pytest.raises(GeneratorError):
        generate_comparison_chain(1, 0, **kwargs)  # type: ignore[arg-type]
