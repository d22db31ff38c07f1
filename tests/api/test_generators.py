"""`/api/ungar/*` and `/api/generators/*` against real databases."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from helpers.factories import make_trace
from tunix_rt.generators import generate

GENERATE = "/api/ungar/high-card-duel/generate"
EXPORT = "/api/ungar/high-card-duel/export.jsonl"
TRACE_RECORD_KEYS = ["id", "prompts", "trace_steps", "final_answer", "metadata"]


async def _stored(client: httpx.AsyncClient, source: str | None = None) -> int:
    """How many traces are stored (with `meta.source` == source, when given)."""
    params: dict[str, Any] = {"limit": 100}
    if source is not None:
        params["source"] = source
    total = 0
    while True:
        page = (await client.get("/api/traces", params=params)).json()
        total += len(page["data"])
        if page["pagination"]["next_cursor"] is None:
            return total
        params["cursor"] = page["pagination"]["next_cursor"]


def _without_ids(line: bytes) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(line)
    record.pop("id")
    record["metadata"].pop("trace_id")
    return record


async def test_status_reports_availability_version_and_why(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/ungar/status")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"available", "version", "message"}
    assert isinstance(body["available"], bool)
    assert body["version"] is None or isinstance(body["version"], str)
    assert body["message"]
    if not body["available"]:
        assert "built-in engine" in body["message"]


async def test_generate_stores_every_trace_and_previews_the_first(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(GENERATE, json={"count": 25, "seed": 7})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"trace_ids", "preview"}
    ids = body["trace_ids"]
    assert len(ids) == len(set(ids)) == 25

    expected = [t.model_dump(mode="json") for t in generate("high-card-duel", 25, seed=7)]
    assert body["preview"] == expected[:3]
    for trace_id, payload in zip(ids, expected, strict=True):
        fetched = await client.get(f"/api/traces/{trace_id}")
        assert fetched.status_code == 200
        assert fetched.json()["payload"] == payload
    assert await _stored(client, "ungar") == 25
    assert await _stored(client) == 25


async def test_the_same_seed_gives_the_same_traces(client: httpx.AsyncClient) -> None:
    first = (await client.post(GENERATE, json={"count": 40, "seed": 123})).json()
    second = (await client.post(GENERATE, json={"count": 40, "seed": 123})).json()
    other = (await client.post(GENERATE, json={"count": 40, "seed": 124})).json()
    assert first["preview"] == second["preview"] != other["preview"]
    assert set(first["trace_ids"]).isdisjoint(second["trace_ids"])  # stored again, new ids

    lines = (await client.get(EXPORT, params={"limit": 1000})).content.splitlines()
    assert len(lines) == 120
    # Everything but the ids is identical, byte for byte.
    assert [_without_ids(line) for line in lines[:40]] == [
        _without_ids(line) for line in lines[40:80]
    ]
    assert [_without_ids(line) for line in lines[:40]] != [
        _without_ids(line) for line in lines[80:]
    ]


async def test_persist_false_returns_the_preview_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(GENERATE, json={"count": 500, "seed": 3, "persist": False})
    assert response.status_code == 201
    body = response.json()
    assert body["trace_ids"] == []
    assert body["preview"] == [
        t.model_dump(mode="json") for t in generate("high-card-duel", 3, seed=3)
    ]
    small = (await client.post(GENERATE, json={"count": 2, "persist": False})).json()
    assert len(small["preview"]) == 2
    assert await _stored(client) == 0


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"count": 0}, ["body", "count"]),
        ({"count": 10_001}, ["body", "count"]),
        ({"count": -1}, ["body", "count"]),
        ({"count": 1, "seed": -1}, ["body", "seed"]),
        ({"count": 1, "seed": 2**32}, ["body", "seed"]),
        ({"seed": 1}, ["body", "count"]),
        ({"count": 1, "speed": 1}, ["body", "speed"]),
    ],
)
async def test_invalid_requests_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post(GENERATE, json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


@pytest.mark.parametrize(("seed", "count"), [(1_000_000, 1), (999_990, 11), (1_999_999, 5)])
@pytest.mark.parametrize("persist", [True, False])
async def test_reserved_eval_seeds_are_refused(
    client: httpx.AsyncClient, seed: int, count: int, persist: bool
) -> None:
    response = await client.post(GENERATE, json={"count": count, "seed": seed, "persist": persist})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "seed"]
    assert "reserved for eval sets" in error["msg"]
    assert "1000000..1999999" in error["msg"]
    assert await _stored(client) == 0
    # Just below the range is fine.
    ok = await client.post(GENERATE, json={"count": 10, "seed": 999_990, "persist": False})
    assert ok.status_code == 201


async def test_the_largest_request_is_stored_in_full(client: httpx.AsyncClient) -> None:
    response = await client.post(GENERATE, json={"count": 10_000, "seed": 5})
    assert response.status_code == 201
    ids = response.json()["trace_ids"]
    assert len(set(ids)) == 10_000
    lines = (await client.get(EXPORT, params={"limit": 100_000})).content.splitlines()
    assert [orjson.loads(line)["id"] for line in lines] == ids


async def test_export_is_trace_format_ndjson_of_ungar_traces_oldest_first(
    client: httpx.AsyncClient,
) -> None:
    empty = await client.get(EXPORT)
    assert empty.status_code == 200
    assert empty.headers["content-type"] == "application/x-ndjson"
    assert empty.content == b""

    assert (await client.post("/api/traces", json=make_trace(1, source="other"))).status_code == 201
    other = await client.post(
        "/api/generators/arithmetic/generate", json={"count": 4, "params": {"digits": 2}}
    )
    assert other.status_code == 201
    first = (await client.post(GENERATE, json={"count": 6, "seed": 1})).json()["trace_ids"]
    second = (await client.post(GENERATE, json={"count": 6, "seed": 50})).json()["trace_ids"]

    response = await client.get(EXPORT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.content.endswith(b"\n")
    records = [orjson.loads(line) for line in response.content.splitlines()]
    assert [r["id"] for r in records] == first + second  # only ungar traces, oldest first

    payloads = list(generate("high-card-duel", 6, seed=1))
    record = records[0]
    assert list(record) == TRACE_RECORD_KEYS
    assert record["prompts"] == payloads[0].prompt
    assert record["trace_steps"] == [step.content for step in payloads[0].steps]
    assert record["final_answer"] == payloads[0].final_answer
    assert record["metadata"]["trace_id"] == record["id"]
    assert record["metadata"]["source"] == "ungar"
    assert orjson.loads(record["metadata"]["meta_json"]) == payloads[0].meta

    limited = await client.get(EXPORT, params={"limit": 4})
    assert [orjson.loads(line)["id"] for line in limited.content.splitlines()] == first[:4]


@pytest.mark.parametrize("limit", ["0", "100001", "-5", "ten"])
async def test_export_limit_is_validated(client: httpx.AsyncClient, limit: str) -> None:
    response = await client.get(EXPORT, params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_generators_are_listed_with_their_params(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/generators")
    assert response.status_code == 200
    listed = {g["name"]: g for g in response.json()}
    assert list(listed) == ["high-card-duel", "arithmetic", "comparison-chain"]
    assert listed["high-card-duel"]["source"] == "ungar"
    assert listed["high-card-duel"]["params"] == []
    digits = next(p for p in listed["arithmetic"]["params"] if p["name"] == "digits")
    assert digits == {
        "name": "digits",
        "type": "int",
        "default": 3,
        "description": "Digits per operand.",
        "choices": [],
        "minimum": 1,
        "maximum": 10,
    }


async def test_generic_generate_uses_params(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/generators/comparison-chain/generate",
        json={"count": 5, "seed": 9, "params": {"people": 6, "question": "most"}},
    )
    assert response.status_code == 201
    body = response.json()
    assert len(body["trace_ids"]) == 5
    expected = generate("comparison-chain", 5, seed=9, people=6, question="most")
    assert body["preview"] == [t.model_dump(mode="json") for t in expected][:3]
    assert await _stored(client, "comparison_chain") == 5

    hcd = await client.post("/api/generators/high-card-duel/generate", json={"count": 2})
    assert hcd.status_code == 201
    assert await _stored(client, "ungar") == 2


@pytest.mark.parametrize(
    ("name", "body", "loc", "message"),
    [
        (
            "arithmetic",
            {"count": 1, "params": {"digits": 11}},
            ["body", "params", "digits"],
            "digits",
        ),
        (
            "arithmetic",
            {"count": 1, "params": {"operation": "div"}},
            ["body", "params", "operation"],
            "div",
        ),
        (
            "arithmetic",
            {"count": 1, "params": {"operation": "mul", "difficulty": "hard"}},
            ["body", "params", "difficulty"],
            "not operation mul",
        ),
        ("arithmetic", {"count": 1, "params": {"colour": "red"}}, ["body", "params"], "colour"),
        ("high-card-duel", {"count": 1, "params": {"x": 1}}, ["body", "params"], "none"),
        ("high-card-duel", {"count": 5, "seed": 1_000_000}, ["body", "seed"], "reserved"),
    ],
)
async def test_generic_generate_errors_are_422(
    client: httpx.AsyncClient, name: str, body: dict[str, Any], loc: list[str], message: str
) -> None:
    response = await client.post(f"/api/generators/{name}/generate", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert message in error["msg"]
    assert await _stored(client) == 0


async def test_an_unknown_generator_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/generators/nope/generate", json={"count": 1})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown generator 'nope' (known: arithmetic, comparison-chain, high-card-duel)"
    }
    assert await _stored(client) == 0
