"""`traces.upload`: one trace, an array or JSON Lines, stored all or nothing within the limits."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.traces.importer import import_lines
from tunix_rt.traces.schema import ReasoningTrace
from tunix_rt.traces.store import count_traces, get_trace
from tunix_rt.traces.upload import (
    EXAMPLE_TRACE,
    Uploaded,
    UploadLimits,
    UploadRefused,
    upload_traces,
)

LIMITS = UploadLimits(trace_max_bytes=1024 * 1024, max_items=5)


def _lines(items: list[Any]) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


async def _upload(
    engine: AsyncEngine, data: bytes, filename: str | None = None, limits: UploadLimits = LIMITS
) -> Uploaded:
    return await upload_traces(engine, io.BytesIO(data), limits=limits, filename=filename)


async def _prompts(engine: AsyncEngine, result: Uploaded) -> list[str]:
    async with engine.connect() as conn:
        return [(await get_trace(conn, trace_id)).payload.prompt for trace_id in result.ids]


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await count_traces(conn)


async def _refused(engine: AsyncEngine, data: bytes, **kwargs: Any) -> UploadRefused:
    with pytest.raises(UploadRefused) as info:
        await _upload(engine, data, **kwargs)
    assert await _count(engine) == 0
    return info.value


async def test_one_trace_an_array_and_json_lines_are_stored(engine: AsyncEngine) -> None:
    one = await _upload(engine, orjson.dumps(make_trace(1), option=orjson.OPT_INDENT_2))
    assert one.stored == 1
    assert await _prompts(engine, one) == ["What is 1 + 1?"]

    many = await _upload(engine, orjson.dumps([make_trace(2), make_trace(3)]))
    assert many.stored == 2
    assert await _prompts(engine, many) == ["What is 2 + 2?", "What is 3 + 3?"]

    pasted = await _upload(engine, _lines([make_trace(4), make_trace(5)]))  # told by its lines
    assert pasted.stored == 2
    assert await _prompts(engine, pasted) == ["What is 4 + 4?", "What is 5 + 5?"]

    filed = await _upload(engine, _lines([make_trace(6)]), filename="set.JSONL")
    assert await _prompts(engine, filed) == ["What is 6 + 6?"]
    assert await _count(engine) == 6


async def test_a_bad_trace_names_every_field(engine: AsyncEngine) -> None:
    trace = make_trace(1, steps=[{"i": 0, "type": "reasoning"}], final_answer="")
    refused = await _refused(engine, orjson.dumps(trace))
    assert str(refused) == "this trace is not valid; nothing was stored"
    assert refused.problems == [
        "steps.0.content: Field required",
        "final_answer: String should have at least 1 character",
    ]


async def test_an_array_with_a_bad_item_stores_nothing(engine: AsyncEngine) -> None:
    items = [make_trace(0), make_trace(1, prompt=""), make_trace(2, meta={"source": 7})]
    refused = await _refused(engine, orjson.dumps(items))
    assert str(refused) == "2 of 3 traces are not valid; nothing was stored"
    assert refused.problems == [
        "1.prompt: String should have at least 1 character",
        "2.meta: meta.source must be a string of 1-255 characters",
    ]
    empty = await _refused(engine, b"[]")
    assert str(empty) == "the array holds no traces; nothing was stored"


async def test_json_lines_with_a_bad_line_store_nothing_and_name_it(engine: AsyncEngine) -> None:
    lines: list[Any] = [make_trace(n) for n in range(4)]
    lines[2] = make_trace(2, steps=0)
    data = _lines(lines[:1]) + b"\n" + _lines(lines[1:])  # a blank line counts as a line
    refused = await _refused(engine, data, filename="bad.jsonl")
    assert str(refused) == "1 of 4 lines is not a valid trace; nothing was stored"
    assert refused.problems == [
        "line 4: steps: List should have at least 1 item after validation, not 0"
    ]

    pasted = await _refused(engine, data + b"{not json\n")
    assert str(pasted) == "2 of 5 lines are not valid traces; nothing was stored"
    assert pasted.problems[0] == refused.problems[0]
    assert pasted.problems[1].startswith("line 6: Invalid JSON: key must be a string")


async def test_the_limits_are_the_apis(engine: AsyncEngine) -> None:
    small = UploadLimits(trace_max_bytes=1024, max_items=2)
    too_many = "an upload holds at most 2 traces (TUNIX_RT_BATCH_MAX_ITEMS); this one has 3"
    items = [make_trace(n) for n in range(3)]
    assert str(await _refused(engine, orjson.dumps(items), limits=small)) == (
        f"{too_many}; nothing was stored"
    )
    assert str(await _refused(engine, _lines(items), limits=small)) == (
        f"{too_many}; nothing was stored"
    )
    big = orjson.dumps(make_trace(1, prompt="p" * 1100))
    assert str(await _refused(engine, big, limits=small)) == (
        f"one trace may be at most 1,024 bytes (TUNIX_RT_TRACE_MAX_BYTES); this one has "
        f"{len(big):,}; nothing was stored"
    )
    lines = await _refused(
        engine, _lines([make_trace(0), make_trace(1, prompt="p" * 1100)]), limits=small
    )
    assert str(lines) == "1 of 2 lines is too large; nothing was stored"
    assert lines.problems == [
        f"line 2: {len(big):,} bytes, more than the 1,024 a trace may have "
        "(TUNIX_RT_TRACE_MAX_BYTES)"
    ]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (
            b"  \n",
            None,
            "there is nothing to upload: give a trace, a JSON array of traces or JSON Lines",
        ),
        (b"\n\n", "empty.jsonl", "there are no traces in these lines; nothing was stored"),
        (
            b"42",
            None,
            "expected one trace (a JSON object), a JSON array of traces, or JSON "
            "Lines (one trace per line)",
        ),
        (
            b'{"prompt": ',
            None,
            "this is not valid JSON: unexpected end of data: line 1 column 12 (char 11)",
        ),
    ],
)
async def test_what_is_not_traces_is_named(
    engine: AsyncEngine, data: bytes, filename: str | None, message: str
) -> None:
    assert str(await _refused(engine, data, filename=filename)) == message


def test_the_example_is_a_valid_trace() -> None:
    assert ReasoningTrace.model_validate(EXAMPLE_TRACE).model_dump(exclude_none=True) == (
        EXAMPLE_TRACE
    )


async def test_the_importer_keeps_ids_only_when_asked(engine: AsyncEngine) -> None:
    data = _lines([make_trace(n) for n in range(3)])
    plain = await import_lines(engine, io.BytesIO(data))
    assert (plain.stored, plain.ids) == (3, [])
    kept = await import_lines(engine, io.BytesIO(data), keep_ids=True)
    async with engine.connect() as conn:
        prompts = [(await get_trace(conn, i)).payload.prompt for i in kept.ids]
    assert prompts == ["What is 0 + 0?", "What is 1 + 1?", "What is 2 + 2?"]
    bad = await import_lines(engine, io.BytesIO(data + b"{}\n"), keep_ids=True)
    assert (bad.stored, bad.ids, bad.committed) == (0, [], False)


async def test_the_importer_refuses_text_holding_a_nul_naming_the_line(
    engine: AsyncEngine,
) -> None:
    """PostgreSQL cannot store U+0000; an import refuses it on either database, by line and
    field, and stores nothing; the six characters `\\u0000` written out are plain text."""
    with_nul = make_trace(1)
    with_nul["steps"][0]["content"] = "carry\x00 1"
    with_nul_key = make_trace(2)
    with_nul_key["meta"] = {"no\x00te": 1}
    written_out = make_trace(3)
    written_out["prompt"] = "What is \\u0000?"
    data = _lines([make_trace(0), with_nul, with_nul_key, written_out])
    report = await import_lines(engine, io.BytesIO(data))
    assert (report.stored, report.committed) == (0, False)
    assert [(e.line, e.reason) for e in report.errors] == [
        (2, "steps.0.content: Text must not contain the NUL character (U+0000)"),
        (3, "meta.no\\u0000te: Text must not contain the NUL character (U+0000)"),
    ]
    kept = await import_lines(engine, io.BytesIO(_lines([written_out])), keep_ids=True)
    async with engine.connect() as conn:
        assert (await get_trace(conn, kept.ids[0])).payload.prompt == "What is \\u0000?"
