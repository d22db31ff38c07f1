"""Arithmetic traces: every step is re-checked with Python integers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunix_rt.generators import GeneratorError
from tunix_rt.generators.arithmetic import (
    MAX_DIGITS,
    OPERATIONS,
    generate_arithmetic,
    is_held_out,
    place_name,
    solve,
)
from tunix_rt.traces.schema import ReasoningTrace

TIMES = "\u00d7"  # the multiplication sign used in prompts and steps
PROMPT = re.compile(rf"^What is (\d+) ([+\-{TIMES}]) (\d+)\?$")
ADD_COLUMN = re.compile(
    r"^([\w^-]+): (\d) \+ (\d) \+ carry (\d) = (\d+), write (\d), carry (\d)\.$"
)
FINAL_CARRY = re.compile(r"^The final carry (\d) becomes the leading digit\.$")
SUB_COLUMN = re.compile(
    r"^([\w^-]+): (\d) - borrow (\d) - (\d)"
    r"(?: = (\d), write (\d), borrow 0\.| is negative, so borrow 10: (\d+) - borrow (\d) - (\d) "
    r"= (\d), write (\d), borrow 1\.)$"
)
READING = re.compile(
    r"^Reading the written digits from the highest place down gives (\d+)(?:, which is (\d+))?\.$"
)
SPLIT = re.compile(r"^Split (\d+) by place value: (\d+) = ([\d + ]+)\.$")
PARTIAL_SIMPLE = re.compile(rf"^(\d+) {TIMES} (\d) = (\d+)\.$")
PARTIAL_SCALED = re.compile(
    rf"^(\d+) {TIMES} (\d+) = (\d+) {TIMES} (\d) {TIMES} (\d+) = (\d+) {TIMES} (\d+) = (\d+)\.$"
)
SUM = re.compile(r"^(\d+) \+ (\d+) = (\d+)\.$")


def digits_of(value: int) -> list[int]:
    """Least significant first."""
    return [int(ch) for ch in reversed(str(value))]


def check_addition(a: int, b: int, steps: list[tuple[str, str]], result: int) -> None:
    kinds = [k for k, _ in steps]
    assert kinds[0] == "setup" and kinds[-2:] == ["result", "conclusion"]
    columns = [c for k, c in steps if k == "column"]
    width = max(len(str(a)), len(str(b)))
    da, db = digits_of(a), digits_of(b)
    carry, written = 0, []
    for pos in range(width):
        m = ADD_COLUMN.match(columns[pos])
        assert m, columns[pos]
        place, top, bottom, carry_in, total, write, carry_out = m.groups()
        assert place == place_name(pos)
        assert int(top) == (da[pos] if pos < len(da) else 0)
        assert int(bottom) == (db[pos] if pos < len(db) else 0)
        assert int(carry_in) == carry
        assert int(total) == int(top) + int(bottom) + carry
        assert int(write) == int(total) % 10 and int(carry_out) == int(total) // 10
        carry = int(carry_out)
        written.append(int(write))
    if carry:
        assert len(columns) == width + 1
        m = FINAL_CARRY.match(columns[width])
        assert m and int(m[1]) == carry
        written.append(carry)
    else:
        assert len(columns) == width
    reading = READING.match(steps[-2][1])
    assert reading
    assert reading[1] == "".join(map(str, reversed(written)))
    assert int(reading[1]) == a + b == result


def check_comparison(a: int, b: int, line: str) -> None:
    """The comparison step says which operand is the smaller, and shows why."""
    verdict = f"so {a} is smaller than {b}." if a < b else f"so {a} is larger than {b}."
    if a == b:
        verdict = f"so {a} equals {b}."
    assert line.endswith(verdict), line
    if len(str(a)) != len(str(b)):
        digits = "digit" if len(str(a)) == 1 else "digits"
        assert line == (
            f"Compare {a} and {b}: {a} has {len(str(a))} {digits} and {b} has {len(str(b))}, "
            + verdict
        )
        return
    places = line.removeprefix(f"Compare {a} and {b} from the highest place: ")
    shown = places.removesuffix(", " + verdict).split(", ")
    width = len(str(a))
    for position, part in enumerate(shown):
        x, y = str(a)[position], str(b)[position]
        sign = "=" if x == y else ("<" if x < y else ">")
        assert part == f"{place_name(width - 1 - position).lower()} {x} {sign} {y}"
    differing = [i for i in range(width) if str(a)[i] != str(b)[i]]
    assert len(shown) == (differing[0] + 1 if differing else width)  # stops where they differ


def check_subtraction(a: int, b: int, steps: list[tuple[str, str]], result: int) -> None:
    negative = a < b
    top_value, bottom_value = (b, a) if negative else (a, b)
    if steps[0][0] == "comparison":
        check_comparison(a, b, steps[0][1])
        steps = steps[1:]
    assert steps[0][0] == "setup"
    assert (f"compute {b} - {a}" in steps[0][1]) == negative
    columns = [c for k, c in steps if k == "column"]
    dt, db = digits_of(top_value), digits_of(bottom_value)
    assert len(columns) == len(dt)
    borrow, written = 0, []
    for pos, line in enumerate(columns):
        m = SUB_COLUMN.match(line)
        assert m, line
        place, top, borrow_in, bottom = m[1], int(m[2]), int(m[3]), int(m[4])
        assert place == place_name(pos)
        assert top == dt[pos]
        assert bottom == (db[pos] if pos < len(db) else 0)
        assert borrow_in == borrow
        if m[5] is not None:
            assert top - borrow_in - bottom == int(m[5]) == int(m[6]) >= 0
            written.append(int(m[6]))
            borrow = 0
        else:
            assert top - borrow_in - bottom < 0
            assert int(m[7]) == top + 10 and int(m[8]) == borrow_in and int(m[9]) == bottom
            assert int(m[7]) - borrow_in - bottom == int(m[10]) == int(m[11])
            written.append(int(m[11]))
            borrow = 1
    assert borrow == 0
    result_step = next(c for k, c in steps if k == "result")
    reading = READING.match(result_step)
    assert reading
    assert reading[1] == "".join(map(str, reversed(written)))
    magnitude = int(reading[1])
    assert reading[2] is None or int(reading[2]) == magnitude
    assert (reading[2] is not None) == (reading[1] != str(magnitude))
    assert magnitude == abs(a - b)
    signs = [c for k, c in steps if k == "sign"]
    assert signs == ([f"Making it negative gives {a - b}."] if negative else [])
    assert result == a - b


def check_multiplication(a: int, b: int, steps: list[tuple[str, str]], result: int) -> None:
    assert result == a * b
    if a == 0 or b == 0:
        assert result == 0 and steps[0][0] == "observation"
        return
    parts = [d * 10**p for p, d in enumerate(digits_of(b)) if d]
    setups = [c for k, c in steps if k == "setup"]
    if len(parts) > 1:
        m = SPLIT.match(setups[0])
        assert m and int(m[1]) == int(m[2]) == b
        terms = [int(t) for t in m[3].split(" + ")]
        assert terms == sorted(parts, reverse=True) and sum(terms) == b
    else:
        assert setups == []
    products = []
    partial_lines = [c for k, c in steps if k == "partial_product"]
    assert len(partial_lines) == len(parts)
    for part, line in zip(parts, partial_lines, strict=True):
        simple, scaled = PARTIAL_SIMPLE.match(line), PARTIAL_SCALED.match(line)
        if part < 10:
            assert simple, line
            x, d, p = map(int, simple.groups())
            assert (x, d) == (a, part) and p == x * d
        else:
            assert scaled, line
            x, whole, x2, d, s, xd, s2, p = map(int, scaled.groups())
            assert x == x2 == a and whole == part == d * s and s == s2
            assert 1 <= d <= 9 and str(s).strip("0") == "1"
            assert xd == a * d and p == xd * s == a * whole
        products.append(a * part)
    running = products[0]
    sums = [c for k, c in steps if k == "sum"]
    assert len(sums) == len(products) - 1
    for partial, line in zip(products[1:], sums, strict=True):
        m = SUM.match(line)
        assert m, line
        x, y, z = map(int, m.groups())
        assert (x, y) == (running, partial) and z == x + y
        running = z
    assert running == a * b


CHECKERS = {"add": check_addition, "sub": check_subtraction, "mul": check_multiplication}
PYTHON = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
SYMBOL_OPS = {"+": "add", "-": "sub", TIMES: "mul"}


def check_trace(trace: ReasoningTrace) -> None:
    meta = trace.meta or {}
    m = PROMPT.match(trace.prompt)
    assert m, trace.prompt
    a, op, b = int(m[1]), SYMBOL_OPS[m[2]], int(m[3])
    assert meta["operation"] == op and meta["operands"] == [a, b]
    expected = str(PYTHON[op](a, b))
    assert trace.final_answer == meta["expected_answer"] == expected
    assert meta["source"] == "arithmetic" and meta["task"] == "arithmetic"
    steps = [(s.type, s.content) for s in trace.steps]
    assert steps[-1] == ("conclusion", f"So {a} {m[2]} {b} = {expected}.")
    CHECKERS[op](a, b, steps, int(expected))
    digits = meta["digits"]
    for operand in (a, b):
        assert len(str(operand)) == digits


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("digits", range(1, MAX_DIGITS + 1))
def test_every_step_is_correct(operation: str, digits: int) -> None:
    for seed in (0, 1, 987_654):
        for trace in generate_arithmetic(60, seed, digits=digits, operation=operation):
            check_trace(trace)
            assert (trace.meta or {})["seed"] == seed


def test_mixed_operations_default_params() -> None:
    traces = list(generate_arithmetic(3_000, 0))
    for index, trace in enumerate(traces):
        check_trace(trace)
        assert (trace.meta or {})["index"] == index
        assert (trace.meta or {})["digits"] == 3
    ops = {(t.meta or {})["operation"] for t in traces}
    assert ops == {"add", "sub", "mul"}
    assert any(t.final_answer.startswith("-") for t in traces)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(OPERATIONS),
    st.integers(min_value=0, max_value=10**18),
    st.integers(min_value=0, max_value=10**18),
)
def test_solve_any_operands(operation: str, a: int, b: int) -> None:
    steps, result = solve(operation, a, b)  # type: ignore[arg-type]
    assert result == PYTHON[operation](a, b)
    CHECKERS[operation](a, b, steps, result)


@pytest.mark.parametrize(
    ("a", "b"),
    [(0, 0), (0, 7), (7, 0), (9, 9), (1000, 999), (999, 1000), (1, 99999), (10**9, 1), (505, 505)],
)
def test_edge_operands(a: int, b: int) -> None:
    for operation in OPERATIONS:
        steps, result = solve(operation, a, b)
        CHECKERS[operation](a, b, steps, result)


@pytest.mark.parametrize(
    ("a", "b", "line"),
    [
        (
            509,
            526,
            "Compare 509 and 526 from the highest place: hundreds 5 = 5, tens 0 < 2, "
            "so 509 is smaller than 526.",
        ),
        (
            955,
            953,
            "Compare 955 and 953 from the highest place: hundreds 9 = 9, tens 5 = 5, "
            "ones 5 > 3, so 955 is larger than 953.",
        ),
        (
            72,
            72,
            "Compare 72 and 72 from the highest place: tens 7 = 7, ones 2 = 2, so 72 equals 72.",
        ),
        (7, 1000, "Compare 7 and 1000: 7 has 1 digit and 1000 has 4, so 7 is smaller than 1000."),
        (
            1000,
            99,
            "Compare 1000 and 99: 1000 has 4 digits and 99 has 2, so 1000 is larger than 99.",
        ),
    ],
)
def test_a_worked_comparison_comes_first(a: int, b: int, line: str) -> None:
    steps, result = solve("sub", a, b, compare_first=True)
    assert steps[0] == ("comparison", line)
    check_subtraction(a, b, steps, result)
    stated, _ = solve("sub", a, b)
    assert stated == steps[1:]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_a_worked_comparison_is_right_for_any_operands(a: int, b: int) -> None:
    steps, _ = solve("sub", a, b, compare_first=True)
    check_comparison(a, b, steps[0][1])


def test_generated_subtractions_work_out_the_comparison_when_asked() -> None:
    worked = list(generate_arithmetic(200, 3, digits=3, operation="mixed", comparison="worked"))
    stated = list(generate_arithmetic(200, 3, digits=3, operation="mixed"))
    for trace, plain in zip(worked, stated, strict=True):
        check_trace(trace)
        meta = trace.meta or {}
        assert trace.prompt == plain.prompt and trace.final_answer == plain.final_answer
        if meta["operation"] == "sub":
            assert meta["comparison"] == "worked"
            assert trace.steps[0].type == "comparison"
            assert [s.content for s in trace.steps[1:]] == [s.content for s in plain.steps]
        else:
            assert "comparison" not in meta
            assert trace == plain


def test_item_does_not_depend_on_count_and_seeds_matter() -> None:
    short = [t.model_dump_json().encode() for t in generate_arithmetic(5, 11, digits=4)]
    long = [t.model_dump_json().encode() for t in generate_arithmetic(50, 11, digits=4)]
    again = [t.model_dump_json().encode() for t in generate_arithmetic(50, 11, digits=4)]
    other = [t.model_dump_json().encode() for t in generate_arithmetic(50, 12, digits=4)]
    assert long[:5] == short
    assert long == again
    assert long != other


def test_training_never_yields_held_out_problems() -> None:
    for digits in range(1, 7):
        for trace in generate_arithmetic(2_000, 3, digits=digits):
            a, b = (trace.meta or {})["operands"]
            assert not is_held_out((trace.meta or {})["operation"], a, b)


def test_held_out_share_is_about_a_tenth() -> None:
    held = sum(is_held_out("add", a, b) for a in range(100, 400) for b in range(100, 200))
    assert 0.08 < held / 30_000 < 0.12
    assert not any(is_held_out("mul", a, b) for a in range(10) for b in range(10))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"digits": 0},
        {"digits": MAX_DIGITS + 1},
        {"digits": "3"},
        {"operation": "div"},
        {"difficulty": "easy"},
        {"operation": "mul", "difficulty": "hard"},
        {"comparison": "implicit"},
    ],
)
def test_bad_params(kwargs: dict[str, object]) -> None:
    with pytest.raises(GeneratorError):
        generate_arithmetic(1, 0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("operation", ["add", "sub"])
@pytest.mark.parametrize("digits", range(1, MAX_DIGITS + 1))
def test_hard_problems_are_correct_and_never_held_out(operation: str, digits: int) -> None:
    for trace in generate_arithmetic(200, 5, digits=digits, operation=operation, difficulty="hard"):
        check_trace(trace)
        meta = trace.meta or {}
        assert meta["difficulty"] == "hard"
        assert not is_held_out(operation, *meta["operands"])  # type: ignore[arg-type]


def boundary_share(operation: str, difficulty: str) -> float:
    """The share of columns at the carry / borrow boundary over 3-digit problems."""
    at, columns = 0, 0
    for trace in generate_arithmetic(
        2_000, 9, digits=3, operation=operation, difficulty=difficulty
    ):
        a, b = (trace.meta or {})["operands"]
        for x, y in zip(digits_of(a), digits_of(b), strict=True):
            at += x + y == 9 if operation == "add" else x == y
            columns += 1
    return at / columns


@pytest.mark.parametrize("operation", ["add", "sub"])
def test_hard_puts_about_half_the_columns_at_the_boundary(operation: str) -> None:
    assert 0.08 < boundary_share(operation, "uniform") < 0.13  # one digit in ten, by chance
    assert 0.50 < boundary_share(operation, "hard") < 0.60  # a half, plus chance on the rest


def test_hard_subtractions_are_as_often_negative_as_positive() -> None:
    traces = list(generate_arithmetic(2_000, 2, digits=3, operation="sub", difficulty="hard"))
    negative = sum(t.final_answer.startswith("-") for t in traces)
    assert 0.35 < negative / len(traces) < 0.5  # the rest: positive or, equal operands, 0


def test_mixed_hard_draws_multiplications_as_usual() -> None:
    traces = list(generate_arithmetic(300, 4, difficulty="hard"))
    levels = {(t.meta or {})["operation"]: (t.meta or {}).get("difficulty") for t in traces}
    assert levels == {"add": "hard", "sub": "hard", "mul": None}
    uniform = [t.model_dump_json() for t in generate_arithmetic(300, 4)]
    assert [t.model_dump_json() for t in generate_arithmetic(300, 4, difficulty="uniform")] == (
        uniform
    )
