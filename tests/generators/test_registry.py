"""The generator registry: names, params, errors, reserved seeds and the demo set."""

from __future__ import annotations

import pytest

from tunix_rt.errors import InvalidInputError, NotFoundError
from tunix_rt.generators import (
    DEFAULT_SEED,
    EVAL_SEED_BASE,
    GENERATORS,
    GeneratorError,
    UnknownGeneratorError,
    generate,
    get_generator,
    mixed_demo_set,
)
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.generators.comparison_chain import generate_comparison_chain
from tunix_rt.generators.high_card_duel import generate_high_card_duel
from tunix_rt.traces.schema import ReasoningTrace


def dump(traces: object) -> list[bytes]:
    return [t.model_dump_json().encode() for t in traces]  # type: ignore[attr-defined]


def test_names_and_descriptions() -> None:
    assert set(GENERATORS) == {"high-card-duel", "arithmetic", "comparison-chain"}
    for name, spec in GENERATORS.items():
        assert spec.name == name and spec.description
        described = spec.describe()
        assert described["name"] == name
        assert all(p["description"] for p in described["params"])
    assert DEFAULT_SEED == 0


def test_registry_matches_direct_calls() -> None:
    assert dump(generate("high-card-duel", 30, 4)) == dump(generate_high_card_duel(30, 4))
    assert dump(GENERATORS["arithmetic"].generate(30, 4, digits=5, operation="mul")) == dump(
        generate_arithmetic(30, 4, digits=5, operation="mul")
    )
    assert dump(generate("comparison-chain", 30)) == dump(generate_comparison_chain(30, 0))
    assert dump(generate("arithmetic", 5)) == dump(generate_arithmetic(5, DEFAULT_SEED))


def test_sources_match_meta() -> None:
    for name, spec in GENERATORS.items():
        for trace in generate(name, 5, 1):
            assert trace.source == spec.source


def test_string_params_are_coerced() -> None:
    assert dump(generate("arithmetic", 3, 0, digits="4")) == dump(
        generate_arithmetic(3, 0, digits=4)
    )


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("arithmetic", {"digts": 3}, "unknown parameter"),
        ("high-card-duel", {"digits": 3}, "unknown parameter"),
        ("arithmetic", {"digits": True}, "integer"),
        ("arithmetic", {"digits": "three"}, "integer"),
        ("arithmetic", {"digits": 0}, "between"),
        ("arithmetic", {"operation": "div"}, "one of"),
        ("comparison-chain", {"people": 99}, "between"),
        ("comparison-chain", {"question": 3}, "one of"),
    ],
)
def test_bad_params(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(GeneratorError, match=message) as info:
        generate(name, 1, 0, **params)
    assert isinstance(info.value, InvalidInputError) and not isinstance(info.value, ValueError)


def test_bad_count_and_seed() -> None:
    with pytest.raises(GeneratorError):
        generate("arithmetic", -1)
    with pytest.raises(GeneratorError):
        generate("arithmetic", 1, -1)
    with pytest.raises(GeneratorError):
        generate("arithmetic", 1.5)  # type: ignore[arg-type]


def test_unknown_generator() -> None:
    with pytest.raises(UnknownGeneratorError, match="known: arithmetic") as info:
        get_generator("poker")
    # A missing name, not bad input: NotFoundError alone, so the API answers 404.
    assert isinstance(info.value, NotFoundError)
    assert not isinstance(info.value, (GeneratorError, InvalidInputError))


def test_high_card_duel_eval_seeds_are_reserved() -> None:
    with pytest.raises(GeneratorError, match="reserved"):
        generate("high-card-duel", 10, EVAL_SEED_BASE - 5)
    with pytest.raises(GeneratorError, match="reserved"):
        generate("high-card-duel", 1, EVAL_SEED_BASE + 3)
    assert len(list(generate("high-card-duel", 5, EVAL_SEED_BASE - 5))) == 5
    assert list(generate("high-card-duel", 0, EVAL_SEED_BASE)) == []


def test_mixed_demo_set() -> None:
    demo = mixed_demo_set()
    assert len(demo) == 12
    assert {t.source for t in demo} == {"ungar", "arithmetic", "comparison_chain"}
    ops = {(t.meta or {}).get("operation") for t in demo if t.source == "arithmetic"}
    assert ops == {"add", "sub", "mul"}
    assert dump(demo) == dump(mixed_demo_set(0))
    assert dump(demo) != dump(mixed_demo_set(1))
    for trace in demo:
        assert ReasoningTrace.model_validate_json(trace.model_dump_json()) == trace
        assert trace.final_answer == (trace.meta or {})["expected_answer"]
