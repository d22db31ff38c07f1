"""`POST /api/traces/{id}/score {"criteria": "answer_match"}` against real databases."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.db.models import scores_table
from tunix_rt.evals.answers import expected_answer_of
from tunix_rt.traces.schema import ReasoningTrace
from tunix_rt.traces.scoring import answer_match_score


async def _create(client: httpx.AsyncClient, final_answer: str, meta: dict[str, Any] | None) -> str:
    body = make_trace(1, final_answer=final_answer, meta=meta)
    response = await client.post("/api/traces", json=body)
    assert response.status_code == 201
    trace_id: str = response.json()["id"]
    return trace_id


async def _score(client: httpx.AsyncClient, trace_id: str, criteria: str) -> httpx.Response:
    return await client.post(f"/api/traces/{trace_id}/score", json={"criteria": criteria})


async def _stored_scores(engine: AsyncEngine, trace_id: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(scores_table).where(scores_table.c.trace_id == uuid.UUID(trace_id))
            )
        ).all()
    return {row.criteria: row for row in rows}


async def test_a_matching_answer_scores_100_and_says_what_was_compared(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    trace_id = await _create(client, "1,234.", {"source": "t", "expected_answer": "1234"})
    response = await _score(client, trace_id, "answer_match")
    assert response.status_code == 201
    body = response.json()
    assert body["trace_id"] == trace_id
    assert body["score"] == 100.0
    details = body["details"]
    assert {k: v for k, v in details.items() if k != "scored_at"} == {
        "criteria": "answer_match",
        "expected_answer": "1234",
        "final_answer": "1,234.",
        "normalized_expected": "1234",
        "normalized_final_answer": "1234",
        "matched": True,
    }
    assert datetime.fromisoformat(details["scored_at"]).tzinfo is not None

    stored = await _stored_scores(engine, trace_id)
    assert set(stored) == {"answer_match"}
    assert stored["answer_match"].score == 100.0
    assert stored["answer_match"].details == details


async def test_a_different_answer_scores_0(client: httpx.AsyncClient) -> None:
    trace_id = await _create(client, "Loss", {"expected_answer": "win"})
    body = (await _score(client, trace_id, "answer_match")).json()
    assert body["score"] == 0.0
    assert body["details"]["matched"] is False
    assert body["details"]["normalized_final_answer"] == "loss"
    assert body["details"]["normalized_expected"] == "win"


async def test_an_integer_expected_answer_is_compared_as_text(client: httpx.AsyncClient) -> None:
    trace_id = await _create(client, "42", {"expected_answer": 42})
    body = (await _score(client, trace_id, "answer_match")).json()
    assert body["score"] == 100.0
    assert body["details"]["expected_answer"] == "42"


@pytest.mark.parametrize(
    "meta", [{"source": "t"}, {"expected_answer": ""}, {"expected_answer": None}, None]
)
async def test_no_expected_answer_is_422_and_stores_nothing(
    client: httpx.AsyncClient, engine: AsyncEngine, meta: dict[str, Any] | None
) -> None:
    trace_id = await _create(client, "7", meta)
    response = await _score(client, trace_id, "answer_match")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "criteria"]
    assert "meta.expected_answer" in error["msg"]
    assert await _stored_scores(engine, trace_id) == {}
    assert (await _score(client, trace_id, "baseline")).status_code == 201


async def test_rescoring_replaces_the_stored_score_per_criteria(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    trace_id = await _create(client, "win", {"expected_answer": "WIN"})
    first = (await _score(client, trace_id, "answer_match")).json()
    assert (await _score(client, trace_id, "baseline")).status_code == 201
    second = (await _score(client, trace_id, "answer_match")).json()
    assert first["score"] == second["score"] == 100.0
    assert second["details"]["scored_at"] > first["details"]["scored_at"]

    stored = await _stored_scores(engine, trace_id)
    assert set(stored) == {"answer_match", "baseline"}  # one row per criteria
    assert stored["answer_match"].details == second["details"]


async def test_unknown_criteria_and_missing_trace(client: httpx.AsyncClient) -> None:
    trace_id = await _create(client, "1", {"expected_answer": "1"})
    assert (await _score(client, trace_id, "exact")).status_code == 422
    assert (await _score(client, str(uuid.uuid4()), "answer_match")).status_code == 404


def test_answer_match_score_without_a_database() -> None:
    trace = ReasoningTrace.model_validate(
        make_trace(1, final_answer="  \u22125 ", meta={"expected_answer": "-5"})
    )
    assert expected_answer_of(trace.meta) == "-5"
    result = answer_match_score(trace, now=datetime.fromisoformat("2025-01-01T00:00:00+00:00"))
    assert result.score == 100.0
    assert result.details["scored_at"] == "2025-01-01T00:00:00+00:00"
    assert expected_answer_of({"expected_answer": True}) is None
