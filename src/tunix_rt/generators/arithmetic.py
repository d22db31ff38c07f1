"""Arithmetic traces: column addition / subtraction and partial-product multiplication.

A fixed tenth of all problems with a multi-digit operand is held out for eval sets
(`is_held_out`): training generation never yields them, eval sets only use them.

Operands are drawn uniformly (`difficulty="uniform"`), or (`"hard"`, additions and
subtractions) with every column of the second operand sitting, one time in two, at the
carry / borrow boundary: digits that sum to 9 in an addition (a carry into that column runs on
into the next), equal digits in a subtraction (whether the column borrows, and which operand is
the smaller, is decided further down). Those are the problems a trained model gets wrong most:
a quickstart SFT run that answers 97 % of uniform held-out problems answers 87 % of hard ones.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from typing import Literal, cast

from tunix_rt.generators.base import (
    GeneratorError,
    check_choice,
    check_count_seed,
    check_int_range,
    item_rng,
    make_trace,
)
from tunix_rt.traces.schema import ReasoningTrace

Operation = Literal["add", "sub", "mul"]
OPERATIONS: tuple[Operation, ...] = ("add", "sub", "mul")
OPERATION_CHOICES: tuple[str, ...] = (*OPERATIONS, "mixed")
TIMES = "\u00d7"  # the multiplication sign
SYMBOLS: dict[Operation, str] = {"add": "+", "sub": "-", "mul": TIMES}

MIN_DIGITS = 1
MAX_DIGITS = 10
DEFAULT_DIGITS = 3
DEFAULT_OPERATION = "mixed"
DIFFICULTIES = ("uniform", "hard")
DEFAULT_DIFFICULTY = "uniform"
BOUNDARY_SHARE = 0.5  # hard: the share of the second operand's columns put at the boundary
COMPARISONS = ("stated", "worked")
DEFAULT_COMPARISON = "stated"
HOLDOUT_MODULUS = 10

TRAIN_NAMESPACE = "arithmetic"
EVAL_NAMESPACE = "arithmetic-eval"

Steps = list[tuple[str, str]]

_PLACES = (
    "ones",
    "tens",
    "hundreds",
    "thousands",
    "ten-thousands",
    "hundred-thousands",
    "millions",
    "ten-millions",
    "hundred-millions",
    "billions",
    "ten-billions",
    "hundred-billions",
    "trillions",
    "ten-trillions",
    "hundred-trillions",
)


def place_name(position: int) -> str:
    """Column name for a digit position counted from the right (0 = ones)."""
    name = _PLACES[position] if position < len(_PLACES) else f"10^{position}s"
    return name[0].upper() + name[1:]


def _digits(value: int, width: int) -> list[int]:
    """Digits of `value`, least significant first, padded with zeros to `width`."""
    text = str(value).rjust(width, "0")
    return [int(ch) for ch in reversed(text)]


def _check_operands(a: int, b: int) -> None:
    if a < 0 or b < 0:
        raise GeneratorError(f"operands must be non-negative, got {a} and {b}")


def addition_steps(a: int, b: int) -> tuple[Steps, int]:
    """Column addition with carries, ones first."""
    _check_operands(a, b)
    width = max(len(str(a)), len(str(b)))
    steps: Steps = [
        (
            "setup",
            f"Write {a} above {b} and add column by column from the ones, "
            "carrying 1 when a column sum is 10 or more.",
        )
    ]
    written: list[int] = []
    carry = 0
    for pos, (top, bottom) in enumerate(zip(_digits(a, width), _digits(b, width), strict=True)):
        total = top + bottom + carry
        written.append(total % 10)
        steps.append(
            (
                "column",
                f"{place_name(pos)}: {top} + {bottom} + carry {carry} = {total}, "
                f"write {total % 10}, carry {total // 10}.",
            )
        )
        carry = total // 10
    if carry:
        written.append(carry)
        steps.append(("column", f"The final carry {carry} becomes the leading digit."))
    result = a + b
    text = "".join(str(d) for d in reversed(written))
    steps.append(
        ("result", f"Reading the written digits from the highest place down gives {text}.")
    )
    steps.append(("conclusion", f"So {a} + {b} = {result}."))
    return steps, result


def comparison_step(a: int, b: int) -> tuple[str, str]:
    """Which of `a` and `b` is the smaller, worked out: an operand with fewer digits is; with as
    many, the first place from the highest whose digits differ decides."""
    text_a, text_b = str(a), str(b)
    if len(text_a) != len(text_b):
        verdict = "smaller" if len(text_a) < len(text_b) else "larger"
        digits = "digit" if len(text_a) == 1 else "digits"
        return (
            "comparison",
            f"Compare {a} and {b}: {a} has {len(text_a)} {digits} and {b} has {len(text_b)}, "
            f"so {a} is {verdict} than {b}.",
        )
    places: list[str] = []
    conclusion = f"so {a} equals {b}"
    for position, (x, y) in enumerate(zip(text_a, text_b, strict=True)):
        place = place_name(len(text_a) - 1 - position).lower()
        if x == y:
            places.append(f"{place} {x} = {y}")
            continue
        smaller = x < y
        places.append(f"{place} {x} {'<' if smaller else '>'} {y}")
        conclusion = f"so {a} is {'smaller' if smaller else 'larger'} than {b}"
        break
    return (
        "comparison",
        f"Compare {a} and {b} from the highest place: {', '.join(places)}, {conclusion}.",
    )


def subtraction_steps(a: int, b: int, *, compare_first: bool = False) -> tuple[Steps, int]:
    """Column subtraction with borrows; a smaller minuend gives a negative result. Which
    operand is the smaller decides the whole computation: the setup step states it, and with
    `compare_first` a step before it works it out (`comparison_step`; docs/rl.md)."""
    _check_operands(a, b)
    negative = a < b
    top_value, bottom_value = (b, a) if negative else (a, b)
    if negative:
        setup = (
            f"{a} is smaller than {b}, so compute {b} - {a} column by column from the ones, "
            "borrowing when needed, and make the result negative."
        )
    else:
        setup = (
            f"Write {a} above {b} and subtract column by column from the ones, "
            "borrowing 10 when a column would go below zero."
        )
    steps: Steps = [comparison_step(a, b)] if compare_first else []
    steps.append(("setup", setup))
    width = len(str(top_value))
    written: list[int] = []
    borrow = 0
    columns = zip(_digits(top_value, width), _digits(bottom_value, width), strict=True)
    for pos, (top, bottom) in enumerate(columns):
        diff = top - borrow - bottom
        head = f"{place_name(pos)}: {top} - borrow {borrow} - {bottom}"
        if diff >= 0:
            line = f"{head} = {diff}, write {diff}, borrow 0."
            next_borrow = 0
        else:
            diff += 10
            line = (
                f"{head} is negative, so borrow 10: {top + 10} - borrow {borrow} - {bottom} "
                f"= {diff}, write {diff}, borrow 1."
            )
            next_borrow = 1
        written.append(diff)
        steps.append(("column", line))
        borrow = next_borrow
    magnitude = top_value - bottom_value
    text = "".join(str(d) for d in reversed(written))
    reading = f"Reading the written digits from the highest place down gives {text}"
    if text != str(magnitude):
        reading += f", which is {magnitude}"
    steps.append(("result", reading + "."))
    result = a - b
    if negative:
        steps.append(("sign", f"Making it negative gives {result}."))
    steps.append(("conclusion", f"So {a} - {b} = {result}."))
    return steps, result


def multiplication_steps(a: int, b: int) -> tuple[Steps, int]:
    """Split the second factor by place value, multiply each part, add the partial products."""
    _check_operands(a, b)
    result = a * b
    if a == 0 or b == 0:
        return [
            ("observation", "One of the factors is 0, and any number times 0 is 0."),
            ("conclusion", f"So {a} {TIMES} {b} = 0."),
        ], result
    parts = [(digit, 10**pos) for pos, digit in enumerate(_digits(b, len(str(b)))) if digit != 0]
    steps: Steps = []
    if len(parts) > 1:
        terms = " + ".join(str(d * scale) for d, scale in reversed(parts))
        steps.append(("setup", f"Split {b} by place value: {b} = {terms}."))
    products: list[int] = []
    for digit, scale in parts:
        partial = a * digit * scale
        if scale == 1:
            line = f"{a} {TIMES} {digit} = {partial}."
        else:
            line = (
                f"{a} {TIMES} {digit * scale} = {a} {TIMES} {digit} {TIMES} {scale} "
                f"= {a * digit} {TIMES} {scale} = {partial}."
            )
        steps.append(("partial_product", line))
        products.append(partial)
    running = products[0]
    for partial in products[1:]:
        steps.append(("sum", f"{running} + {partial} = {running + partial}."))
        running += partial
    steps.append(("conclusion", f"So {a} {TIMES} {b} = {result}."))
    return steps, result


def solve(
    operation: Operation, a: int, b: int, *, compare_first: bool = False
) -> tuple[Steps, int]:
    """Worked steps and the exact result of `a <operation> b` (`compare_first`: as in
    `subtraction_steps`)."""
    check_choice("operation", operation, OPERATIONS)
    if operation == "add":
        return addition_steps(a, b)
    if operation == "sub":
        return subtraction_steps(a, b, compare_first=compare_first)
    return multiplication_steps(a, b)


def is_held_out(operation: Operation, a: int, b: int) -> bool:
    """True for the fixed tenth of multi-digit problems reserved for eval sets."""
    if a < 10 and b < 10:
        return False
    return zlib.crc32(f"{operation}:{a}:{b}".encode()) % HOLDOUT_MODULUS == 0


def arithmetic_trace(
    operation: Operation,
    a: int,
    b: int,
    *,
    seed: int,
    index: int,
    digits: int,
    difficulty: str = DEFAULT_DIFFICULTY,
    comparison: str = DEFAULT_COMPARISON,
) -> ReasoningTrace:
    """The trace for one problem (`meta.difficulty` and `meta.comparison` only when they are
    not the defaults)."""
    steps, result = solve(operation, a, b, compare_first=comparison == "worked")
    answer = str(result)
    meta: dict[str, object] = {
        "source": "arithmetic",
        "task": "arithmetic",
        "operation": operation,
        "digits": digits,
        "operands": [a, b],
        "seed": seed,
        "index": index,
        "expected_answer": answer,
    }
    if difficulty != DEFAULT_DIFFICULTY and operation != "mul":  # mul is drawn uniformly
        meta["difficulty"] = difficulty
    if comparison != DEFAULT_COMPARISON and operation == "sub":
        meta["comparison"] = comparison
    return make_trace(f"What is {a} {SYMBOLS[operation]} {b}?", steps, answer, meta)


def draw_problem(
    rng: random.Random,
    operation: str,
    digits: int,
    *,
    held_out: bool,
    difficulty: str = DEFAULT_DIFFICULTY,
) -> tuple[Operation, int, int]:
    """Draw a problem from the training (`held_out=False`) or eval (`True`) partition."""
    if held_out and digits < 2:
        raise GeneratorError("held-out (eval) problems need digits >= 2")
    op = rng.choice(OPERATIONS) if operation == "mixed" else cast(Operation, operation)
    hard = difficulty == "hard" and op != "mul"
    low = 0 if digits == 1 else 10 ** (digits - 1)
    high = 10**digits - 1
    while True:
        a = rng.randint(low, high)
        b = _boundary_operand(rng, op, a, digits) if hard else rng.randint(low, high)
        if hard and rng.random() < 0.5:
            a, b = b, a  # a subtraction's smaller operand is as often first as second
        if is_held_out(op, a, b) == held_out:
            return op, a, b


def _boundary_operand(rng: random.Random, operation: Operation, a: int, digits: int) -> int:
    """A second operand whose columns sit at the carry / borrow boundary of `a`'s, each with
    probability BOUNDARY_SHARE: 9 minus `a`'s digit (addition), `a`'s digit (subtraction)."""
    chosen: list[int] = []
    for position, digit in enumerate(int(ch) for ch in str(a).rjust(digits, "0")):
        at_boundary = rng.random() < BOUNDARY_SHARE
        value = (9 - digit if operation == "add" else digit) if at_boundary else rng.randint(0, 9)
        if position == 0 and digits > 1 and value == 0:
            value = rng.randint(1, 9)  # keep every operand `digits` digits long
        chosen.append(value)
    return int("".join(str(value) for value in chosen))


def check_params(
    digits: int,
    operation: str,
    difficulty: str = DEFAULT_DIFFICULTY,
    comparison: str = DEFAULT_COMPARISON,
) -> None:
    """Raise `GeneratorError` for a digit count, operation, difficulty or comparison this
    generator does not know."""
    check_int_range("digits", digits, MIN_DIGITS, MAX_DIGITS)
    check_choice("operation", operation, OPERATION_CHOICES)
    check_choice("difficulty", difficulty, DIFFICULTIES)
    check_choice("comparison", comparison, COMPARISONS)
    if difficulty == "hard" and operation == "mul":
        raise GeneratorError(
            "difficulty hard is for addition and subtraction, not operation mul",
            loc=("params", "difficulty"),
        )


def generate_arithmetic(
    count: int,
    seed: int,
    *,
    digits: int = DEFAULT_DIGITS,
    operation: str = DEFAULT_OPERATION,
    difficulty: str = DEFAULT_DIFFICULTY,
    comparison: str = DEFAULT_COMPARISON,
) -> Iterator[ReasoningTrace]:
    """`count` training problems with `digits`-digit operands; item i depends only on seed, i
    (and the params)."""
    check_count_seed(count, seed)
    check_params(digits, operation, difficulty, comparison)
    return _items(count, seed, digits, operation, difficulty, comparison)


def _items(
    count: int, seed: int, digits: int, operation: str, difficulty: str, comparison: str
) -> Iterator[ReasoningTrace]:
    for index in range(count):
        rng = item_rng(TRAIN_NAMESPACE, seed, index)
        op, a, b = draw_problem(rng, operation, digits, held_out=False, difficulty=difficulty)
        yield arithmetic_trace(
            op,
            a,
            b,
            seed=seed,
            index=index,
            digits=digits,
            difficulty=difficulty,
            comparison=comparison,
        )
