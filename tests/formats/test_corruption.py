"""Corrupted rejections of `preference` records: deterministic, and truly wrong. Property-style
over thousands of generated arithmetic traces of every operation and size."""

from __future__ import annotations

import re
import uuid
from itertools import islice

import pytest

from tunix_rt.evals.answers import answer_match
from tunix_rt.evals.completions import parse_completion
from tunix_rt.formats import render
from tunix_rt.formats.corruption import corrupt, corrupted_answer
from tunix_rt.formats.gemma import TURN_CLOSE
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.generators.comparison_chain import generate_comparison_chain
from tunix_rt.generators.high_card_duel import generate_high_card_duel

DIGIT = re.compile(r"\d")


def arithmetic_traces() -> list[tuple[str, dict[str, object]]]:
    """(trace id, payload) of 2,400 problems: add, sub and mul with 1 to 8 digits."""
    found = []
    for digits in range(1, 9):
        for operation in ("add", "sub", "mul"):
            for index, trace in enumerate(
                generate_arithmetic(100, digits, digits=digits, operation=operation)
            ):
                trace_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"{operation}:{digits}:{index}"))
                found.append((trace_id, trace.model_dump(mode="json")))
    return found


def one_digit_changed(before: str, after: str) -> bool:
    """`after` is `before` with exactly one digit replaced by another digit."""
    if len(before) != len(after):
        return False
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    return len(changed) == 1 and changed[0][0].isdigit() and changed[0][1].isdigit()


def test_corrupted_answers_never_match_and_corrupted_steps_change_one_digit() -> None:
    kinds = {"corrupted_answer": 0, "corrupted_step": 0}
    for trace_id, payload in arithmetic_traces():
        expected = payload["meta"]["expected_answer"]  # type: ignore[index]
        wrong = corrupted_answer(trace_id, payload["prompt"], payload["final_answer"], expected)  # type: ignore[arg-type]
        assert not answer_match(wrong, expected).matched, (trace_id, wrong, expected)
        assert DIGIT.sub("", wrong) == DIGIT.sub("", expected), (wrong, expected)  # a number
        assert one_digit_changed(expected, wrong), (wrong, expected)
        assert not re.match(r"-?0\d", wrong), wrong  # no leading zero
        record = render("preference", trace_id, payload)
        assert record == render("preference", trace_id, payload)  # deterministic
        metadata = record["metadata"]
        kinds[metadata["rejected_source"]] += 1
        rejected = record["rejected"].removesuffix(TURN_CLOSE)
        assert record["rejected"].endswith(TURN_CLOSE)
        parsed = parse_completion(rejected)
        chosen = parse_completion(record["chosen"].removesuffix(TURN_CLOSE))
        assert parsed.layout_ok and chosen.layout_ok
        assert parsed.answer is not None
        if metadata["rejected_source"] == "corrupted_answer":
            assert metadata["corrupted_step"] is None
            assert parsed.answer == wrong
            assert not answer_match(parsed.answer, expected).matched
            assert parsed.steps == chosen.steps
        else:
            number = metadata["corrupted_step"]
            assert answer_match(parsed.answer, expected).matched  # only the step is wrong
            differing = [
                n
                for n, (a, b) in enumerate(zip(chosen.steps, parsed.steps, strict=True), 1)
                if a != b
            ]
            assert differing == [number]
            assert one_digit_changed(chosen.steps[number - 1], parsed.steps[number - 1])
    # Both kinds are drawn, about half each.
    assert min(kinds.values()) > 0.4 * sum(kinds.values()), kinds


@pytest.mark.parametrize(
    ("answer", "prompt", "wrong"),
    [
        ("win", "What is the outcome for you: win, loss or tie?", "loss"),
        ("Alice", "Alice is taller than Ben. Ben is taller than Cleo. Who is the tallest?", "Cleo"),
        ("yes", "Is 3 odd?", "no"),
        ("False", "True or false: 3 is even.", "True"),
        ("Ok", "", "not Ok"),
        ("-7", "", "-3"),
        ("1,234", "", "1,294"),
        ("0", "", "6"),
        ("10", "", "70"),
    ],
)
def test_a_wrong_answer_is_a_number_an_option_or_a_word_of_the_prompt(
    answer: str, prompt: str, wrong: str
) -> None:
    assert corrupted_answer("t-1", prompt, answer, answer) == wrong
    assert not answer_match(wrong, answer).matched


def test_text_answers_of_the_other_generators_never_match() -> None:
    traces = [*islice(generate_comparison_chain(300, 1), 300), *generate_high_card_duel(300, 2)]
    for index, trace in enumerate(traces):
        trace_id = f"trace-{index}"
        expected = trace.meta["expected_answer"]
        steps = [step.content for step in trace.steps]
        wrong = corrupted_answer(trace_id, trace.prompt, trace.final_answer, expected)
        assert not answer_match(wrong, expected).matched
        assert wrong in trace.prompt, (wrong, trace.prompt)  # a name or an option it offers
        corrupted = corrupt(trace_id, trace.prompt, steps, trace.final_answer, expected)
        if corrupted.kind == "corrupted_answer":
            assert corrupted.final_answer == wrong and corrupted.steps == steps
        else:
            assert corrupted.step is not None and corrupted.final_answer == trace.final_answer
            assert one_digit_changed(steps[corrupted.step - 1], corrupted.steps[corrupted.step - 1])
