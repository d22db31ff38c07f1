"""The /api/traces endpoints against real databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from helpers.factories import make_trace
from tunix_rt.settings import Settings


async def test_create_then_get_returns_the_payload(client: httpx.AsyncClient) -> None:
    body = make_trace(1)
    created = await client.post("/api/traces", json=body)
    assert created.status_code == 201
    summary = created.json()
    assert set(summary) == {"id", "created_at", "trace_version"}
    assert summary["trace_version"] == "1.0"
    assert datetime.fromisoformat(summary["created_at"]).tzinfo is not None

    fetched = await client.get(f"/api/traces/{summary['id']}")
    assert fetched.status_code == 200
    record = fetched.json()
    assert record["id"] == summary["id"]
    assert record["created_at"] == summary["created_at"]
    assert record["payload"] == body


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    response = await client.get(f"/api/traces/{missing}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"trace {missing} not found"}
    assert (await client.get("/api/traces/not-a-uuid")).status_code == 422
    assert (await client.delete(f"/api/traces/{missing}")).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trace_version": ""}, ["body", "trace_version"]),
        ({"trace_version": "v" * 65}, ["body", "trace_version"]),
        ({"prompt": "x" * 50_001}, ["body", "prompt"]),
        ({"final_answer": ""}, ["body", "final_answer"]),
        ({"steps": []}, ["body", "steps"]),
        ({"steps": [{"i": 0, "type": "r", "content": "a"}] * 2}, ["body", "steps"]),
        ({"steps": [{"i": -1, "type": "r", "content": "a"}]}, ["body", "steps", 0, "i"]),
        ({"steps": [{"i": 0, "type": "t" * 65, "content": "a"}]}, ["body", "steps", 0, "type"]),
        (
            {"steps": [{"i": 0, "type": "r", "content": "c" * 20_001}]},
            ["body", "steps", 0, "content"],
        ),
        ({"meta": {"source": 7}}, ["body", "meta"]),
        ({"unexpected": 1}, ["body", "unexpected"]),
    ],
)
async def test_invalid_trace_is_422_with_the_field_path(
    client: httpx.AsyncClient, change: dict[str, object], field: list[object]
) -> None:
    response = await client.post("/api/traces", json=make_trace(**change))  # type: ignore[arg-type]
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]


async def test_limits_at_the_boundary_are_accepted(client: httpx.AsyncClient) -> None:
    body = make_trace(
        trace_version="v" * 64,
        prompt="p" * 50_000,
        steps=[{"i": i, "type": "t" * 64, "content": "c"} for i in range(1000)],
    )
    assert (await client.post("/api/traces", json=body)).status_code == 201


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/traces", content=b'{"trace_version": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


async def test_batch_stores_all_in_order(client: httpx.AsyncClient) -> None:
    bodies = [make_trace(n) for n in range(5)]
    response = await client.post("/api/traces/batch", json=bodies)
    assert response.status_code == 201
    created = response.json()
    assert created["created_count"] == 5
    ids = [item["id"] for item in created["traces"]]
    for trace_id, body in zip(ids, bodies, strict=True):
        assert (await client.get(f"/api/traces/{trace_id}")).json()["payload"] == body
    listed = (await client.get("/api/traces", params={"limit": 10})).json()["data"]
    assert [item["id"] for item in listed] == ids[::-1]


async def test_batch_with_bad_items_stores_nothing_and_names_each(
    client: httpx.AsyncClient,
) -> None:
    bodies = [make_trace(0), make_trace(1, prompt=""), make_trace(2), make_trace(3, steps=0)]
    response = await client.post("/api/traces/batch", json=bodies)
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", 1, "prompt"] in locations
    assert ["body", 3, "steps"] in locations
    assert {loc[1] for loc in locations} == {1, 3}
    listed = (await client.get("/api/traces")).json()
    assert listed["data"] == []


async def test_batch_count_is_capped(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.batch_max_items = 3  # the app reads the settings object it was built with
    response = await client.post("/api/traces/batch", json=[make_trace(n) for n in range(4)])
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"loc": ["body"], "msg": "a batch holds at most 3 traces; got 4", "type": "value_error"}
        ]
    }
    assert (await client.post("/api/traces/batch", json=[])).status_code == 422


async def test_offset_and_cursor_pages_walk_every_trace_once(client: httpx.AsyncClient) -> None:
    # Two batches: rows of one batch share created_at, so the cursor must break ties.
    first = (await client.post("/api/traces/batch", json=[make_trace(n) for n in range(7)])).json()
    second = (
        await client.post("/api/traces/batch", json=[make_trace(n) for n in range(7, 12)])
    ).json()
    newest_first = [t["id"] for t in second["traces"][::-1] + first["traces"][::-1]]

    seen, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/traces", params=params)).json()
        seen += [item["id"] for item in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first

    offset_seen, offset = [], 0
    while offset is not None:
        page = (await client.get("/api/traces", params={"limit": 5, "offset": offset})).json()
        assert page["pagination"]["limit"] == 5
        assert page["pagination"]["offset"] == offset
        offset_seen += [item["id"] for item in page["data"]]
        offset = page["pagination"]["next_offset"]
    assert offset_seen == newest_first


async def test_list_parameter_errors(client: httpx.AsyncClient) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"cursor": "garbage!"}):
        response = await client.get("/api/traces", params=params)
        assert response.status_code == 422, params
    response = await client.get("/api/traces", params={"cursor": "abc", "offset": 5})
    assert response.status_code == 422
    naive = await client.get("/api/traces", params={"created_after": "2024-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_filters_source_time_and_prompt(client: httpx.AsyncClient) -> None:
    a = (await client.post("/api/traces", json=make_trace(1, source="alpha"))).json()
    b = (
        await client.post("/api/traces", json=make_trace(2, source="beta", prompt="100% sure?"))
    ).json()
    c = (await client.post("/api/traces", json=make_trace(3, source=None))).json()

    async def ids(**params: object) -> list[str]:
        page = (await client.get("/api/traces", params=params)).json()
        return [item["id"] for item in page["data"]]

    assert await ids(source="alpha") == [a["id"]]
    assert await ids(source="nope") == []
    assert await ids(q="100%") == [b["id"]]  # % is matched literally
    assert await ids(q="WHAT IS") == [c["id"], a["id"]]  # case-insensitive
    at_b = b["created_at"]
    assert await ids(created_after=at_b) == [c["id"], b["id"]]
    assert await ids(created_before=at_b) == [a["id"]]
    later = (datetime.fromisoformat(c["created_at"]) + timedelta(seconds=1)).isoformat()
    assert await ids(created_after=later) == []
    assert await ids(created_before=datetime(2000, 1, 1, tzinfo=UTC).isoformat()) == []


async def test_delete_removes_trace_and_its_scores(
    client: httpx.AsyncClient, engine: object
) -> None:
    created = (await client.post("/api/traces", json=make_trace(1))).json()
    assert (
        await client.post(f"/api/traces/{created['id']}/score", json={"criteria": "baseline"})
    ).status_code == 201
    assert (await client.delete(f"/api/traces/{created['id']}")).status_code == 204
    assert (await client.get(f"/api/traces/{created['id']}")).status_code == 404
    from sqlalchemy import func, select

    from tunix_rt.db.models import scores_table

    async with engine.connect() as conn:  # type: ignore[attr-defined]
        count = (await conn.execute(select(func.count()).select_from(scores_table))).scalar_one()
    assert count == 0


async def test_baseline_score_values_are_exact_and_stored(client: httpx.AsyncClient) -> None:
    steps = [
        {"i": i, "type": "r", "content": "x" * length}
        for i, length in enumerate([100, 200, 300, 400])
    ]
    created = (await client.post("/api/traces", json=make_trace(1, steps=steps))).json()
    response = await client.post(
        f"/api/traces/{created['id']}/score", json={"criteria": "baseline"}
    )
    assert response.status_code == 201
    result = response.json()
    assert result["trace_id"] == created["id"]
    assert result["score"] == pytest.approx(20.0 + 25.0)  # 4/10*50 + 250/500*50
    details = result["details"]
    assert details["criteria"] == "baseline"
    assert details["step_count"] == 4
    assert details["avg_step_length"] == 250
    assert details["total_chars"] == 1000
    assert details["step_score"] == pytest.approx(20.0)
    assert details["length_score"] == pytest.approx(25.0)
    assert datetime.fromisoformat(details["scored_at"]).tzinfo is not None

    capped = [{"i": i, "type": "r", "content": "y" * 900} for i in range(12)]
    top = (await client.post("/api/traces", json=make_trace(2, steps=capped))).json()
    assert (await client.post(f"/api/traces/{top['id']}/score", json={})).json()["score"] == 100.0

    assert (
        await client.post(f"/api/traces/{top['id']}/score", json={"criteria": "nope"})
    ).status_code == 422
    assert (await client.post(f"/api/traces/{uuid.uuid4()}/score", json={})).status_code == 404


async def test_compare_returns_both_with_scores(client: httpx.AsyncClient) -> None:
    base = (await client.post("/api/traces", json=make_trace(1, steps=2))).json()
    other = (await client.post("/api/traces", json=make_trace(2, steps=10))).json()
    response = await client.get(
        "/api/traces/compare", params={"base": base["id"], "other": other["id"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["base"]["id"] == base["id"]
    assert body["other"]["id"] == other["id"]
    assert body["base"]["payload"] == make_trace(1, steps=2)
    assert body["base"]["score"] == pytest.approx(2 / 10 * 50 + len("step 0 of 1") / 500 * 50)
    assert body["other"]["score"] > body["base"]["score"]

    missing = uuid.uuid4()
    response = await client.get(
        "/api/traces/compare", params={"base": base["id"], "other": str(missing)}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": f"other trace {missing} not found"}
    response = await client.get(
        "/api/traces/compare", params={"base": str(missing), "other": other["id"]}
    )
    assert response.json() == {"detail": f"base trace {missing} not found"}


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


async def test_health_is_503_with_a_reason_when_the_database_is_down() -> None:
    from tunix_rt.api.app import create_app
    from tunix_rt.settings import Settings

    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["reason"].startswith("database unavailable: ")
