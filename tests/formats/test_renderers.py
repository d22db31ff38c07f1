"""Every export format on a sample trace, byte for byte, plus the renderer conventions."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tunix_rt.errors import InvalidInputError
from tunix_rt.formats import (
    FORMATS,
    RENDERERS,
    ExportFormat,
    RecordEncodeError,
    StepLabelsError,
    UnknownFormatError,
    canonical_meta_json,
    encode_line,
    encode_lines,
    reasoning_response,
    record_metadata,
    render,
    renderer_for,
)

TRACE_ID = "3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b"


def sample_payload() -> dict[str, Any]:
    """Steps stored out of order on purpose: they must render ordered by `i`."""
    return {
        "trace_version": "1.0",
        "prompt": "What is 17 * 3?",
        "steps": [
            {"i": 1, "type": "compute", "content": "10 * 3 = 30 and 7 * 3 = 21."},
            {"i": 0, "type": "plan", "content": "Split 17 into 10 + 7."},
            {"i": 2, "type": "combine", "content": "30 + 21 = 51."},
        ],
        "final_answer": "51",
        "meta": {"tags": ["math", "é"], "source": "arith-gen", "difficulty": 2},
    }


META = (
    r'{"trace_id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","source":"arith-gen",'
    r'"meta_json":"{\"difficulty\":2,\"source\":\"arith-gen\",\"tags\":[\"math\",\"é\"]}"}'
)

PREFERENCE_META = META[:-1] + (
    r',"expected_answer":"51","rejected_source":"corrupted_answer","evaluation_id":null,'
    r'"eval_index":null,"corrupted_step":null}'
)

EXPECTED: dict[str, str] = {
    "trace": (
        r'{"id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b","prompts":"What is 17 * 3?",'
        r'"trace_steps":["Split 17 into 10 + 7.","10 * 3 = 30 and 7 * 3 = 21.","30 + 21 = 51."],'
        r'"final_answer":"51","metadata":' + META + "}"
    ),
    "tunix_sft": (
        r'{"id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b",'
        r'"prompts":"<start_of_turn>user\nWhat is 17 * 3?<end_of_turn>\n<start_of_turn>model\n'
        r"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n"
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"prompt":"<start_of_turn>user\nWhat is 17 * 3?<end_of_turn>\n<start_of_turn>model\n",'
        r'"completion":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"final_answer":"51","metadata":' + META + "}"
    ),
    "training_example": (
        r'{"prompt":"What is 17 * 3?",'
        r'"response":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51",'
        r'"metadata":' + META + "}"
    ),
    "messages": (
        r'{"messages":[{"role":"user","content":"What is 17 * 3?"},'
        r'{"role":"assistant","content":"Reasoning:\n1. Split 17 into 10 + 7.\n'
        r'2. 10 * 3 = 30 and 7 * 3 = 21.\n3. 30 + 21 = 51.\nAnswer: 51"}],'
        r'"metadata":' + META + "}"
    ),
    "prompt_completion": (
        r'{"prompt":"What is 17 * 3?",'
        r'"completion":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51",'
        r'"metadata":' + META + "}"
    ),
    "alpaca": (
        r'{"instruction":"What is 17 * 3?","input":"",'
        r'"output":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51","system":""}'
    ),
    "sharegpt": (
        r'{"conversations":[{"from":"human","value":"What is 17 * 3?"},'
        r'{"from":"gpt","value":"Reasoning:\n1. Split 17 into 10 + 7.\n'
        r'2. 10 * 3 = 30 and 7 * 3 = 21.\n3. 30 + 21 = 51.\nAnswer: 51"}]}'
    ),
    "stepwise": (
        r'{"prompt":"What is 17 * 3?",'
        r'"completions":["Split 17 into 10 + 7.","10 * 3 = 30 and 7 * 3 = 21.","30 + 21 = 51."],'
        r'"labels":[true,true,true]}'
    ),
    "preference": (
        r'{"prompt":"<start_of_turn>user\nWhat is 17 * 3?<end_of_turn>\n<start_of_turn>model\n",'
        r'"chosen":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"rejected":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 61<end_of_turn>\n",'
        r'"metadata":' + PREFERENCE_META + "}"
    ),
}

SYSTEM = "Be concise."

EXPECTED_WITH_SYSTEM: dict[str, str] = {
    "trace": EXPECTED["trace"],
    "tunix_sft": (
        r'{"id":"3f2b8c1e-9d4a-4e6b-8f0a-1c2d3e4f5a6b",'
        r'"prompts":"<start_of_turn>user\nBe concise.\n\nWhat is 17 * 3?<end_of_turn>\n'
        r"<start_of_turn>model\n"
        r"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n"
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"prompt":"<start_of_turn>user\nBe concise.\n\nWhat is 17 * 3?<end_of_turn>\n'
        r'<start_of_turn>model\n",'
        r'"completion":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"final_answer":"51","metadata":' + META + "}"
    ),
    "training_example": (
        r'{"prompt":"Be concise.\n\nWhat is 17 * 3?",'
        r'"response":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51",'
        r'"metadata":' + META + "}"
    ),
    "messages": (
        r'{"messages":[{"role":"system","content":"Be concise."},'
        r'{"role":"user","content":"What is 17 * 3?"},'
        r'{"role":"assistant","content":"Reasoning:\n1. Split 17 into 10 + 7.\n'
        r'2. 10 * 3 = 30 and 7 * 3 = 21.\n3. 30 + 21 = 51.\nAnswer: 51"}],'
        r'"metadata":' + META + "}"
    ),
    "prompt_completion": (
        r'{"prompt":"Be concise.\n\nWhat is 17 * 3?",'
        r'"completion":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51",'
        r'"metadata":' + META + "}"
    ),
    "alpaca": (
        r'{"instruction":"What is 17 * 3?","input":"",'
        r'"output":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51","system":"Be concise."}'
    ),
    "sharegpt": (
        r'{"conversations":[{"from":"human","value":"What is 17 * 3?"},'
        r'{"from":"gpt","value":"Reasoning:\n1. Split 17 into 10 + 7.\n'
        r'2. 10 * 3 = 30 and 7 * 3 = 21.\n3. 30 + 21 = 51.\nAnswer: 51"}],'
        r'"system":"Be concise."}'
    ),
    "stepwise": (
        r'{"prompt":"Be concise.\n\nWhat is 17 * 3?",'
        r'"completions":["Split 17 into 10 + 7.","10 * 3 = 30 and 7 * 3 = 21.","30 + 21 = 51."],'
        r'"labels":[true,true,true]}'
    ),
    "preference": (
        r'{"prompt":"<start_of_turn>user\nBe concise.\n\nWhat is 17 * 3?<end_of_turn>\n'
        r'<start_of_turn>model\n",'
        r'"chosen":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 51<end_of_turn>\n",'
        r'"rejected":"Reasoning:\n1. Split 17 into 10 + 7.\n2. 10 * 3 = 30 and 7 * 3 = 21.\n'
        r'3. 30 + 21 = 51.\nAnswer: 61<end_of_turn>\n",'
        r'"metadata":' + PREFERENCE_META + "}"
    ),
}


def test_every_format_has_an_expected_line() -> None:
    assert set(EXPECTED) == set(FORMATS) == set(EXPECTED_WITH_SYSTEM) == set(RENDERERS)
    assert FORMATS == (
        "trace",
        "tunix_sft",
        "training_example",
        "messages",
        "prompt_completion",
        "alpaca",
        "sharegpt",
        "stepwise",
        "preference",
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_exact_line(fmt: str) -> None:
    line = encode_line(render(fmt, TRACE_ID, sample_payload()))
    assert line == (EXPECTED[fmt] + "\n").encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_exact_line_with_system(fmt: str) -> None:
    line = encode_line(render(fmt, TRACE_ID, sample_payload(), system=SYSTEM))
    assert line == (EXPECTED_WITH_SYSTEM[fmt] + "\n").encode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_system_is_no_system(fmt: str) -> None:
    assert render(fmt, TRACE_ID, sample_payload(), system="") == render(
        fmt, TRACE_ID, sample_payload()
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_line_is_one_utf8_json_object(fmt: str) -> None:
    payload = sample_payload()
    payload["prompt"] = "line one\nline two \u2028 \x00 — ✓"
    record = render(fmt, TRACE_ID, payload, system="sys")
    line = encode_line(record)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert "✓".encode() in line  # non-ASCII is written as UTF-8, not escaped
    assert json.loads(line) == record


@pytest.mark.parametrize("fmt", FORMATS)
def test_deterministic(fmt: str) -> None:
    first = encode_line(render(fmt, TRACE_ID, sample_payload(), system=SYSTEM))
    second = encode_line(render(fmt, TRACE_ID, sample_payload(), system=SYSTEM))
    assert first == second
    # Same trace, different storage order of steps and of meta keys: same bytes.
    reordered = sample_payload()
    reordered["steps"].reverse()
    reordered["meta"] = dict(reversed(list(reordered["meta"].items())))
    assert encode_line(render(fmt, TRACE_ID, reordered, system=SYSTEM)) == first


@pytest.mark.parametrize("fmt", FORMATS)
def test_payload_not_mutated(fmt: str) -> None:
    payload = sample_payload()
    before = copy.deepcopy(payload)
    render(fmt, TRACE_ID, payload, system=SYSTEM)
    assert payload == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_steps(fmt: str) -> None:
    payload = sample_payload()
    payload["steps"] = []
    record = render(fmt, TRACE_ID, payload)
    encoded = encode_line(record)
    assert b"Reasoning:" not in encoded
    if fmt == "tunix_sft":
        assert record["completion"] == "Answer: 51<end_of_turn>\n"
    if fmt == "stepwise":
        assert record["completions"] == [] and record["labels"] == []
    if fmt == "trace":
        assert record["trace_steps"] == []


def test_reasoning_response() -> None:
    assert reasoning_response([], "4") == "Answer: 4"
    assert reasoning_response(["a", "b\nc"], "4") == "Reasoning:\n1. a\n2. b\nc\nAnswer: 4"


def test_reasoning_response_numbers_any_step_count() -> None:
    steps = [f"s{n}" for n in range(1, 301)]
    lines = reasoning_response(steps, "x").split("\n")
    assert lines[0] == "Reasoning:" and lines[-1] == "Answer: x"
    assert lines[1:-1] == [f"{n}. s{n}" for n in range(1, 301)]


def test_training_text_is_trimmed_trace_is_raw() -> None:
    payload = sample_payload()
    payload["prompt"] = "  What is 17 * 3?\n"
    payload["final_answer"] = "51  "
    for fmt in FORMATS:
        if fmt != "trace":
            assert render(fmt, TRACE_ID, payload) == render(fmt, TRACE_ID, sample_payload()) | (
                {"final_answer": "51  "} if fmt == "tunix_sft" else {}
            )
    trace = render("trace", TRACE_ID, payload)
    assert trace["prompts"] == "  What is 17 * 3?\n"
    assert trace["final_answer"] == "51  "


def test_step_labels_follow_sorted_steps() -> None:
    payload = sample_payload()
    payload["meta"]["step_labels"] = [True, False, True]  # for steps i = 0, 1, 2
    record = render("stepwise", TRACE_ID, payload)
    assert record["completions"][1] == "10 * 3 = 30 and 7 * 3 = 21."
    assert record["labels"] == [True, False, True]


@pytest.mark.parametrize(
    "labels",
    [[True, False], [True, False, True, True], [1, 0, 1], "true", {"0": True}, [True, None, True]],
)
def test_bad_step_labels(labels: object) -> None:
    payload = sample_payload()
    payload["meta"]["step_labels"] = labels
    with pytest.raises(StepLabelsError, match="one per step"):
        render("stepwise", TRACE_ID, payload)


def test_unknown_format() -> None:
    with pytest.raises(UnknownFormatError, match="expected one of: trace, tunix_sft") as info:
        render("csv", TRACE_ID, sample_payload())
    assert isinstance(info.value, InvalidInputError)
    assert info.value.name == "csv"


def test_renderer_lookup_by_name_or_enum() -> None:
    for member in ExportFormat:
        assert renderer_for(member) is renderer_for(member.value) is RENDERERS[member.value]


def test_metadata_shape() -> None:
    payload = sample_payload()
    assert record_metadata(TRACE_ID, payload) == {
        "trace_id": TRACE_ID,
        "source": "arith-gen",
        "meta_json": '{"difficulty":2,"source":"arith-gen","tags":["math","é"]}',
    }
    payload["meta"] = {"source": 7, "nested": {"b": 1, "a": [{"z": 0, "y": None}]}}
    assert record_metadata(TRACE_ID, payload) == {
        "trace_id": TRACE_ID,
        "source": None,
        "meta_json": '{"nested":{"a":[{"y":null,"z":0}],"b":1},"source":7}',
    }
    empties: list[dict[str, Any] | None] = [None, {}]
    for empty in empties:
        payload["meta"] = empty
        assert record_metadata(TRACE_ID, payload)["meta_json"] == "{}"
    del payload["meta"]
    assert record_metadata(TRACE_ID, payload) == {
        "trace_id": TRACE_ID,
        "source": None,
        "meta_json": "{}",
    }


def test_meta_json_round_trips_and_handles_big_integers() -> None:
    meta = {"big": 2**70, "f": 0.1, "s": "ü", "l": [1, {"k": True}]}
    assert json.loads(canonical_meta_json(meta)) == meta
    assert (
        canonical_meta_json(meta)
        == '{"big":1180591620717411303424,"f":0.1,"l":[1,{"k":true}],"s":"ü"}'
    )


def test_encode_error_is_typed() -> None:
    payload = sample_payload()
    payload["prompt"] = "lone surrogate \ud800"
    with pytest.raises(RecordEncodeError):
        encode_line(render("training_example", TRACE_ID, payload))


def test_encode_lines_is_encode_line_of_each_record_joined() -> None:
    records = [render(fmt, TRACE_ID, sample_payload()) for fmt in FORMATS]
    assert encode_lines(records) == b"".join(encode_line(record) for record in records)
    assert encode_lines([]) == b""
    bad = sample_payload()
    bad["prompt"] = "lone surrogate \ud800"
    with pytest.raises(RecordEncodeError, match="cannot encode export record"):
        encode_lines([*records, render("training_example", TRACE_ID, bad)])
