"""What the traces pages read: overview pages of the list, and a trace's stored scores."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.traces import store
from tunix_rt.traces.schema import ReasoningTrace


async def _create(engine: AsyncEngine, n: int, **extra: Any) -> uuid.UUID:
    summary = await store.create_trace(
        engine, ReasoningTrace.model_validate(make_trace(n, **extra))
    )
    return summary.id


async def test_overview_pages_are_newest_first_with_source_steps_and_clipped_prompt(
    engine: AsyncEngine,
) -> None:
    ids = [await _create(engine, n, steps=n + 1, source="a" if n % 2 else "b") for n in range(5)]
    long_id = await _create(engine, 9, source="a", prompt="x" * 158 + " yz")

    async with engine.connect() as conn:
        first = await store.list_trace_overviews(conn, limit=4)
        assert [item.id for item in first.items] == [long_id, ids[4], ids[3], ids[2]]
        assert [item.prompt for item in first.items] == [
            "x" * 158 + " y\u2026",
            "What is 4 + 4?",
            "What is 3 + 3?",
            "What is 2 + 2?",
        ]
        assert [(item.source, item.step_count) for item in first.items] == [
            ("a", 3),
            ("b", 5),
            ("a", 4),
            ("b", 3),
        ]
        assert first.items[1].trace_version == "1.0"
        assert first.next_cursor is not None
        rest = await store.list_trace_overviews(conn, limit=4, cursor=first.next_cursor)
        assert [item.id for item in rest.items] == [ids[1], ids[0]]
        assert rest.next_cursor is None

        clipped = await store.list_trace_overviews(conn, limit=2, prompt_chars=14)
        assert [item.prompt for item in clipped.items] == ["x" * 14 + "\u2026", "What is 4 + 4?"]

        only_a = await store.list_trace_overviews(
            conn, limit=10, filters=store.TraceFilters(source="a", prompt_contains="3 +")
        )
        assert [item.id for item in only_a.items] == [ids[3]]
        assert only_a.next_cursor is None


async def test_overview_pages_and_the_api_list_page_alike(engine: AsyncEngine) -> None:
    for n in range(7):
        await _create(engine, n)
    async with engine.connect() as conn:
        overviews, summaries = [], []
        cursor: str | None = None
        while True:
            page = await store.list_trace_overviews(conn, limit=3, cursor=cursor)
            overviews += [item.id for item in page.items]
            listed = await store.list_traces(conn, limit=3, cursor=cursor)
            summaries += [item.id for item in listed.items]
            assert page.next_cursor == listed.next_cursor
            cursor = page.next_cursor
            if cursor is None:
                break
    assert overviews == summaries and len(overviews) == 7


async def test_stored_scores_are_the_latest_per_criteria(engine: AsyncEngine) -> None:
    trace_id = await _create(engine, 3, meta={"expected_answer": "6"})
    other_id = await _create(engine, 4)
    async with engine.connect() as conn:
        assert await store.stored_scores(conn, trace_id) == []

    await store.score_and_store(engine, trace_id, "baseline")
    await store.score_and_store(engine, trace_id, "answer_match")
    latest = await store.score_and_store(engine, trace_id, "baseline")
    await store.score_and_store(engine, other_id, "baseline")

    async with engine.connect() as conn:
        scores = await store.stored_scores(conn, trace_id)
    assert [(s.criteria, s.score) for s in scores] == [
        ("answer_match", 100.0),
        ("baseline", latest.score),
    ]
    baseline = scores[1]
    assert latest.score == 15 + 11 / 500 * 50  # 3 steps of 11 characters
    assert baseline.details == latest.details
    assert baseline.scored_at.isoformat() == latest.details["scored_at"]
    assert scores[0].details["matched"] is True
