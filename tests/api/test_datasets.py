"""Building datasets through the API: selection, filters, dedupe, splits, manifests, stats."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace, reference_seed_position
from tunix_rt.db.functions import rank_key_of
from tunix_rt.settings import Settings
from tunix_rt.traces.schema import ReasoningTrace


async def post_traces(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> list[str]:
    response = await client.post("/api/traces/batch", json=bodies)
    assert response.status_code == 201, response.text
    return [t["id"] for t in response.json()["traces"]]


async def build(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("dataset_name", "ds")
    body.setdefault("dataset_version", "v1")
    return await client.post("/api/datasets/build", json=body)


async def manifest(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    response = await client.get(f"/api/datasets/{key}")
    assert response.status_code == 200, response.text
    return response.json()


async def test_latest_picks_the_newest_and_writes_the_manifest(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    old = await post_traces(client, [make_trace(n) for n in range(5)])
    new = await post_traces(client, [make_trace(n) for n in range(5, 10)])
    response = await build(client, limit=7, session_id="s1", training_run_id="r1")
    assert response.status_code == 201
    built = response.json()
    assert built["dataset_key"] == "ds-v1"
    assert built["trace_count"] == 7
    path = Path(built["manifest_path"])
    assert path == (settings.data_dir / "datasets" / "ds-v1" / "manifest.json").resolve()

    shown = await manifest(client, "ds-v1")
    assert shown["trace_ids"] == new[::-1] + old[::-1][:2]
    assert shown["build_id"] == built["build_id"]
    assert shown["selection_strategy"] == "latest"
    assert shown["seed"] is None
    assert shown["session_id"] == "s1"
    assert shown["training_run_id"] == "r1"
    assert shown["dataset_schema_version"] == "1.0"
    assert json.loads(path.read_bytes()) == shown  # noqa: ASYNC240

    listed = (await client.get("/api/datasets")).json()["data"]
    assert [d["dataset_key"] for d in listed] == ["ds-v1"]
    assert listed[0]["export_sha256"] == shown["export_sha256"]


async def test_stats_are_exact(client: httpx.AsyncClient) -> None:
    bodies = [
        make_trace(1, steps=[{"i": 0, "type": "r", "content": "x" * 10}]),
        make_trace(
            2, steps=[{"i": i, "type": "r", "content": "y" * 20} for i in range(3)], prompt="p"
        ),
    ]
    await post_traces(client, bodies)
    assert (await build(client, limit=10)).status_code == 201
    stats = (await manifest(client, "ds-v1"))["stats"]
    chars_1 = len("What is 1 + 1?") + 10 + len("2")
    chars_2 = len("p") + 60 + len("4")
    assert stats["trace_count"] == 2
    assert (stats["min_steps"], stats["avg_steps"], stats["max_steps"]) == (1, 2.0, 3)
    assert stats["avg_chars"] == pytest.approx((chars_1 + chars_2) / 2)
    assert stats["max_chars"] == max(chars_1, chars_2)
    est_1 = (chars_1 + 70 + 4) / 4
    est_2 = (chars_2 + 70 + 12) / 4
    assert stats["est_tokens_avg"] == pytest.approx((est_1 + est_2) / 2, abs=0.05)
    assert stats["est_tokens_max"] == -(-int(max(est_1, est_2) * 4) // 4)
    assert stats["split_counts"] == {}


async def test_random_is_reproducible_per_seed(client: httpx.AsyncClient) -> None:
    await post_traces(client, [make_trace(n) for n in range(40)])
    for version, seed in (("a", 7), ("b", 7), ("c", 8)):
        response = await build(
            client, dataset_version=version, selection_strategy="random", seed=seed, limit=10
        )
        assert response.status_code == 201
    a, b, c = [(await manifest(client, f"ds-{v}"))["trace_ids"] for v in "abc"]
    assert a == b
    assert a != c
    assert len(set(a)) == 10
    latest = await build(client, dataset_version="d", limit=10)
    assert (await manifest(client, "ds-d"))["trace_ids"] != a
    assert latest.status_code == 201


async def test_random_takes_the_first_traces_of_the_seeds_order(client: httpx.AsyncClient) -> None:
    ids = [uuid.UUID(i) for i in await post_traces(client, [make_trace(n) for n in range(60)])]
    expected = sorted(
        ids, key=lambda i: (reference_seed_position("5", rank_key_of(i)), rank_key_of(i))
    )
    response = await build(client, selection_strategy="random", seed=5, limit=15)
    assert response.status_code == 201
    assert (await manifest(client, "ds-v1"))["trace_ids"] == [str(i) for i in expected[:15]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"selection_strategy": "random"}, ["body"]),
        ({"dataset_name": "a/b"}, ["body", "dataset_name"]),
        ({"dataset_name": ".."}, ["body", "dataset_name"]),  # no name starts with a dot
        ({"dataset_version": ".hidden"}, ["body", "dataset_version"]),
        ({"dataset_version": ""}, ["body", "dataset_version"]),
        ({"dataset_version": "v 1"}, ["body", "dataset_version"]),
        ({"limit": 0}, ["body", "limit"]),
        ({"splits": {"train": 0.5, "val": 0.4}, "seed": 1}, ["body", "splits"]),
        ({"splits": {"train": 1.0}}, ["body"]),
        ({"filters": {"min_score": {"criteria": "nope", "score": 1}}}, ["body", "filters"]),
        ({"filters": {"bad key": 1}}, ["body", "filters"]),
        ({"unexpected": True}, ["body", "unexpected"]),
    ],
)
async def test_bad_build_requests_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], field: list[str]
) -> None:
    await post_traces(client, [make_trace(1)])
    response = await build(client, **body)
    assert response.status_code == 422, response.text
    locations = [error["loc"][: len(field)] for error in response.json()["detail"]]
    assert field in locations


async def test_existing_key_is_409_and_empty_selection_is_422(client: httpx.AsyncClient) -> None:
    await post_traces(client, [make_trace(1)])
    assert (await build(client)).status_code == 201
    again = await build(client, limit=5)
    assert again.status_code == 409
    assert again.json() == {"detail": "dataset ds-v1 already exists; datasets are immutable"}
    empty = await build(client, dataset_version="v2", filters={"source": "nothing"})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["msg"] == "no trace matches the filters"
    assert (await client.get("/api/datasets/ds-v2")).status_code == 404
    # The failed build left nothing behind (no dataset row, no selection table on PostgreSQL).
    retried = await build(client, dataset_version="v2", selection_strategy="random", seed=1)
    assert retried.status_code == 201, retried.text


async def test_meta_created_prompt_and_score_filters(client: httpx.AsyncClient) -> None:
    def trace(n: int, **meta: Any) -> dict[str, Any]:
        body = make_trace(n, source=meta.pop("source", "s"))
        body["meta"].update(meta)
        return body

    ids = await post_traces(
        client,
        [
            trace(0, level=1, tag="x", ok=True),
            trace(1, level=2, tag="x", ok=False),
            trace(2, level=1, tag="y", source="other"),
            trace(3, level=1.5, tag="x"),
        ],
    )

    async def selected(version: str, filters: dict[str, Any]) -> list[str]:
        response = await build(client, dataset_version=version, filters=filters, limit=100)
        if response.status_code == 422:
            return []
        assert response.status_code == 201, response.text
        return sorted((await manifest(client, f"ds-{version}"))["trace_ids"])

    assert await selected("1", {"level": 1}) == sorted([ids[0], ids[2]])
    assert await selected("2", {"meta": {"level": 1, "tag": "x"}}) == [ids[0]]
    assert await selected("3", {"source": "other"}) == [ids[2]]
    assert await selected("4", {"ok": True}) == [ids[0]]
    assert await selected("5", {"level": 1.5}) == [ids[3]]
    assert await selected("6", {"prompt_contains": "WHAT IS 3"}) == [ids[3]]
    created = (await client.get(f"/api/traces/{ids[0]}")).json()["created_at"]
    assert await selected("7", {"created_before": created}) == []
    assert len(await selected("8", {"created_after": created})) == 4

    (rich,) = await post_traces(client, [make_trace(9, steps=10)])
    scores = {
        i: (await client.post(f"/api/traces/{i}/score", json={})).json()["score"]
        for i in (ids[0], rich)
    }
    assert scores[rich] > scores[ids[0]]
    at_least_rich = {"min_score": {"criteria": "baseline", "score": scores[rich]}}
    assert await selected("9", at_least_rich) == [rich]
    at_least_low = {"min_score": {"criteria": "baseline", "score": scores[ids[0]]}}
    assert await selected("10", at_least_low) == sorted([ids[0], rich])  # unscored never match


async def test_dedupe_keeps_the_oldest_of_each_prompt_and_answer(client: httpx.AsyncClient) -> None:
    first = await post_traces(client, [make_trace(1), make_trace(2)])
    second = await post_traces(client, [make_trace(1), make_trace(2, final_answer="other")])
    response = await build(client, dedupe=True, limit=10)
    assert response.status_code == 201
    ids = (await manifest(client, "ds-v1"))["trace_ids"]
    assert sorted(ids) == sorted([first[0], first[1], second[1]])


async def test_splits_partition_exactly_and_reproducibly(client: httpx.AsyncClient) -> None:
    await post_traces(client, [make_trace(n) for n in range(23)])
    splits = {"train": 0.8, "val": 0.1, "test": 0.1}
    for version in ("a", "b"):
        response = await build(client, dataset_version=version, limit=21, seed=5, splits=splits)
        assert response.status_code == 201
    shown = await manifest(client, "ds-a")
    assert shown["stats"]["split_counts"] == {"test": 2, "train": 17, "val": 2}

    async def split_ids(key: str, split: str) -> list[str]:
        response = await client.get(
            f"/api/datasets/{key}/export.jsonl", params={"format": "trace", "split": split}
        )
        assert response.status_code == 200
        return [json.loads(line)["id"] for line in response.text.splitlines()]

    parts = {name: await split_ids("ds-a", name) for name in splits}
    assert sorted(i for members in parts.values() for i in members) == sorted(shown["trace_ids"])
    for name, members in parts.items():
        # Each split keeps manifest order.
        assert members == [i for i in shown["trace_ids"] if i in set(members)]
        assert members == await split_ids("ds-b", name)
    unknown = await client.get("/api/datasets/ds-a/export.jsonl", params={"split": "nope"})
    assert unknown.status_code == 422
    assert "has no split 'nope'" in unknown.json()["detail"][0]["msg"]


async def test_a_held_trace_cannot_be_deleted_until_its_dataset_is(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    ids = await post_traces(client, [make_trace(1), make_trace(2)])
    built = (await build(client, limit=1)).json()
    held = ids[1]
    # A build that fails inside its transaction leaves the foreign key checks on.
    failed = await build(client, dataset_version="v2", filters={"source": "nowhere"})
    assert failed.status_code == 422
    refused = await client.delete(f"/api/traces/{held}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"trace {held} belongs to dataset(s) ds-v1; datasets are immutable, "
        "so delete those datasets first"
    )
    assert (await client.delete(f"/api/traces/{ids[0]}")).status_code == 204
    assert (await client.delete("/api/datasets/ds-v1")).status_code == 204
    assert not Path(built["manifest_path"]).exists()  # noqa: ASYNC240
    assert (await client.delete("/api/datasets/ds-v1")).status_code == 404
    assert (await client.delete(f"/api/traces/{held}")).status_code == 204


async def test_the_build_counts_the_traces_it_could_have_taken(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    from tunix_rt.datasets.builder import build_dataset
    from tunix_rt.datasets.schema import DatasetBuildRequest
    from tunix_rt.evals.evalsets import iter_eval_set
    from tunix_rt.traces.store import create_traces

    bodies = [make_trace(n % 7, prompt=f"count {n % 7}") for n in range(30)]
    traces = [ReasoningTrace(**body) for body in bodies]
    traces += list(iter_eval_set("arithmetic-add-sub-v1"))[:5]  # left out by default
    await create_traces(engine, traces)

    def request(version: str, limit: int, **more: Any) -> DatasetBuildRequest:
        return DatasetBuildRequest(dataset_name="c", dataset_version=version, limit=limit, **more)

    taken = await build_dataset(engine, tmp_path, request("1", 10))
    assert (taken.trace_count, taken.matching_count, taken.eval_prompts_excluded) == (10, 30, 5)
    assert "matching_count" not in taken.model_dump()
    distinct = await build_dataset(engine, tmp_path, request("2", 4, dedupe=True))
    assert (distinct.trace_count, distinct.matching_count) == (4, 7)
    every = await build_dataset(engine, tmp_path, request("3", 50, allow_eval_prompts=True))
    assert (every.trace_count, every.matching_count) == (35, 35)


async def test_a_build_from_an_evaluation_and_its_refusals(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    from helpers.evaluations import TRACE_IDS, record_evaluation, source_dataset, store_traces

    await store_traces(engine)
    key = await source_dataset(engine, settings.data_dir)
    answers = {TRACE_IDS[3]: "66", TRACE_IDS[2]: "64", TRACE_IDS[1]: "46", TRACE_IDS[0]: "42"}
    evaluation_id = await record_evaluation(engine, key, answers)
    body = {"evaluation_id": str(evaluation_id), "only_wrong": True}
    built = await build(client, dataset_name="pairs", pairs_from_evaluation=body)
    assert built.status_code == 201, built.text
    assert (built.json()["trace_count"], built.json()["evaluation_wrong"]) == (1, 1)
    shown = await manifest(client, "pairs-v1")
    assert shown["pairs_from_evaluation"] == {**body, "wrong": 1}
    assert shown["trace_ids"] == [str(TRACE_IDS[1])]
    plain = await build(client, dataset_name="plain")
    assert plain.json()["evaluation_wrong"] is None
    assert (await manifest(client, "plain-v1"))["pairs_from_evaluation"] is None

    exported = await client.get("/api/datasets/pairs-v1/export.jsonl?format=preference")
    assert exported.status_code == 200
    (record,) = [json.loads(line) for line in exported.content.splitlines()]
    assert record["rejected"] == (
        "Reasoning:\n1. Add the ones.\n2. Add the tens.\nAnswer: 46<end_of_turn>\n"
    )
    assert record["metadata"]["rejected_source"] == "evaluation"
    assert record["metadata"]["evaluation_id"] == str(evaluation_id)

    unknown = uuid.UUID(int=9)
    missing = await build(client, pairs_from_evaluation={"evaluation_id": str(unknown)})
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": f"evaluation {unknown} not found"},
    )
    failed = await record_evaluation(engine, key, answers, status="failed")
    conflict = await build(client, pairs_from_evaluation={"evaluation_id": str(failed)})
    assert (conflict.status_code, conflict.json()) == (
        409,
        {
            "detail": f"evaluation {failed} is failed: only a succeeded evaluation's items can "
            "be paired"
        },
    )
    held_out = await record_evaluation(engine, key, answers, evalset=True)
    refused = await build(client, pairs_from_evaluation={"evaluation_id": str(held_out)})
    assert (refused.status_code, refused.json()) == (
        422,
        {
            "detail": [
                {
                    "loc": ["body", "pairs_from_evaluation", "evaluation_id"],
                    "msg": f"evaluation {held_out} is of the eval set arithmetic-add-sub-v1, "
                    "whose items are not stored traces and must stay unseen by training; "
                    "evaluate a dataset (or its train split) and pair from that evaluation "
                    "instead",
                    "type": "value_error",
                }
            ]
        },
    )
    malformed = await build(client, pairs_from_evaluation={"evaluation_id": "nope"})
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == [
        "body",
        "pairs_from_evaluation",
        "evaluation_id",
    ]
    assert (await client.get("/api/datasets/ds-v1")).status_code == 404  # none was built
