"""`generators.service`: generated traces streamed into the store or into JSON Lines."""

from __future__ import annotations

import io

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tunix_rt.generators import GeneratorError, UnknownGeneratorError, generate
from tunix_rt.generators.service import (
    CHUNK_SIZE,
    PREVIEW_COUNT,
    encode_trace_line,
    generate_traces,
    store_traces,
    write_traces,
)
from tunix_rt.traces.schema import trace_import_adapter
from tunix_rt.traces.store import TraceFilters, count_traces, stream_traces


async def test_stores_in_chunks_in_generation_order(engine: AsyncEngine) -> None:
    count = CHUNK_SIZE + 5
    progress: list[int] = []
    traces = generate("high-card-duel", count, 17)
    ids = await store_traces(engine, traces, on_progress=progress.append)
    assert len(set(ids)) == count
    assert progress == [CHUNK_SIZE, count]

    expected = [t.model_dump(mode="json") for t in generate("high-card-duel", count, seed=17)]
    async with engine.connect() as conn:
        rows = [row async for row in stream_traces(conn, filters=TraceFilters(source="ungar"))]
        limited = [row async for row in stream_traces(conn, limit=3)]
    assert [row[0] for row in rows] == ids
    assert [row[2] for row in rows] == expected
    assert len({row[1] for row in rows}) == 1  # one request, one created_at
    assert [row[0] for row in limited] == ids[:3]


async def test_params_are_applied(engine: AsyncEngine) -> None:
    generated = await generate_traces(
        engine, "arithmetic", 20, 3, params={"digits": "2", "operation": "add"}
    )
    ids = generated.trace_ids
    async with engine.connect() as conn:
        payloads = [row[2] async for row in stream_traces(conn)]
    assert len(ids) == len(payloads) == 20
    assert {p["meta"]["operation"] for p in payloads} == {"add"}
    assert {p["meta"]["digits"] for p in payloads} == {2}


@pytest.mark.parametrize(
    ("name", "count", "seed", "params", "error"),
    [
        ("nope", 1, 0, {}, UnknownGeneratorError),
        ("arithmetic", 1, 0, {"digits": 99}, GeneratorError),
        ("arithmetic", 1, 0, {"base": 2}, GeneratorError),
        ("arithmetic", -1, 0, {}, GeneratorError),
        ("high-card-duel", 10, 999_995, {}, GeneratorError),
    ],
)
async def test_bad_requests_store_nothing(
    engine: AsyncEngine,
    name: str,
    count: int,
    seed: int,
    params: dict[str, object],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await generate_traces(engine, name, count, seed, params=params)
    async with engine.connect() as conn:
        assert await count_traces(conn) == 0


async def test_one_request_previews_the_head_of_what_it_stores(engine: AsyncEngine) -> None:
    expected = list(generate("arithmetic", 7, seed=5, digits=2))
    generated = await generate_traces(engine, "arithmetic", 7, 5, params={"digits": "2"})
    assert generated.preview == expected[:PREVIEW_COUNT]
    async with engine.connect() as conn:
        rows = [row async for row in stream_traces(conn)]
    assert [row[0] for row in rows] == generated.trace_ids
    assert [row[2] for row in rows] == [t.model_dump(mode="json") for t in expected]

    small = await generate_traces(engine, "arithmetic", 2, 5, params={"digits": 2}, persist=False)
    assert small.trace_ids == []
    assert small.preview == expected[:2]
    async with engine.connect() as conn:
        assert await count_traces(conn) == 7


@pytest.mark.parametrize(
    ("name", "count", "seed", "params", "loc"),
    [
        ("arithmetic", 1, 0, {"digits": 99}, ("params", "digits")),
        ("arithmetic", 1, 0, {"base": 2}, ("params",)),
        ("high-card-duel", 10, 999_995, {}, ("seed",)),
        ("high-card-duel", -1, 0, {}, ("count",)),
    ],
)
@pytest.mark.parametrize("persist", [True, False])
async def test_a_bad_request_names_its_field_and_stores_nothing(
    engine: AsyncEngine,
    name: str,
    count: int,
    seed: int,
    params: dict[str, object],
    loc: tuple[str, ...],
    persist: bool,
) -> None:
    with pytest.raises(GeneratorError) as info:
        await generate_traces(engine, name, count, seed, params=params, persist=persist)
    assert info.value.loc == loc
    async with engine.connect() as conn:
        assert await count_traces(conn) == 0


async def test_count_zero_stores_nothing(engine: AsyncEngine) -> None:
    assert (await generate_traces(engine, "comparison-chain", 0)).trace_ids == []
    async with engine.connect() as conn:
        assert await count_traces(conn) == 0


def test_written_lines_are_deterministic_importable_payloads() -> None:
    def written(seed: int) -> bytes:
        out = io.BytesIO()
        progress: list[int] = []
        traces = generate("comparison-chain", CHUNK_SIZE + 1, seed, people=5)
        n = write_traces(out, traces, on_progress=progress.append)
        assert n == CHUNK_SIZE + 1
        assert progress == [CHUNK_SIZE, CHUNK_SIZE + 1]
        return out.getvalue()

    data = written(8)
    assert data == written(8) != written(9)
    lines = data.splitlines(keepends=True)
    expected = list(generate("comparison-chain", CHUNK_SIZE + 1, seed=8, people=5))
    assert lines == [encode_trace_line(t) for t in expected]
    imported = trace_import_adapter.validate_json(lines[0])
    assert imported.model_dump(exclude={"id", "created_at"}) == expected[0].model_dump()
    first = orjson.loads(lines[0])
    assert list(first) == sorted(first)
    assert list(first["meta"]) == sorted(first["meta"])


def test_write_checks_before_writing() -> None:
    out = io.BytesIO()
    with pytest.raises(GeneratorError, match="people"):
        write_traces(out, generate("comparison-chain", 5, people=2))
    assert out.getvalue() == b""
