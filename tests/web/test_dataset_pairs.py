"""A dataset built from an evaluation, in a real browser: its page names the evaluation, and its
`preference` download is the API's export, pairing the model's wrong completion."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.sync_api import Page, expect

from helpers.browser import check_page
from helpers.evaluations import TRACE_IDS, record_evaluation, source_dataset, store_traces
from helpers.server import running_server
from tunix_rt.db.engine import create_engine


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('web-pairs-db') / 'web.db'}"


@pytest.fixture(scope="module")
def server(database: str) -> Iterator[str]:
    with running_server(database) as base_url:
        yield base_url


def evaluation(database: str, data_dir: Path) -> uuid.UUID:
    """The traces, dataset `src-1` and an evaluation of it in which the model got trace 2
    wrong, stored in the server's database (on a thread of its own: the browser's event loop
    runs on this one)."""
    answers = {TRACE_IDS[3]: "66", TRACE_IDS[2]: "64", TRACE_IDS[1]: "46", TRACE_IDS[0]: "42"}
    found: list[uuid.UUID] = []

    async def record() -> None:
        engine = create_engine(database)
        try:
            await store_traces(engine)
            key = await source_dataset(engine, data_dir)
            found.append(await record_evaluation(engine, key, answers))
        finally:
            await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(record()))
    thread.start()
    thread.join()
    (evaluation_id,) = found
    return evaluation_id


def test_a_dataset_of_pairs_names_its_evaluation_and_downloads_them(
    page: Page, server: str, database: str, tmp_path: Path
) -> None:
    evaluation_id = evaluation(database, tmp_path)
    body = {
        "dataset_name": "pairs",
        "dataset_version": "1",
        "pairs_from_evaluation": {"evaluation_id": str(evaluation_id)},
    }
    httpx.post(f"{server}/api/datasets/build", json=body).raise_for_status()
    page.goto("/datasets/pairs-1")
    expect(page.get_by_test_id("dataset:fact-pairs")).to_have_text(
        f"evaluation {evaluation_id}: 1 wrong; the preference export rejects the model's "
        "completions"
    )
    expect(page.get_by_test_id("dataset:fact-pairs").get_by_role("link")).to_have_attribute(
        "href", f"/evaluations/{evaluation_id}"
    )
    check_page(page, "dataset-pairs")
    web = httpx.get(f"{server}/datasets/pairs-1/export?format=preference")
    api = httpx.get(f"{server}/api/datasets/pairs-1/export.jsonl?format=preference")
    assert web.status_code == api.status_code == 200
    assert web.content == api.content
    records = [orjson.loads(line) for line in web.content.splitlines()]
    assert [r["metadata"]["rejected_source"] for r in records] == [
        "corrupted_step",
        "corrupted_answer",
        "evaluation",
        "corrupted_answer",
    ]
    assert records[2]["metadata"]["evaluation_id"] == str(evaluation_id)
