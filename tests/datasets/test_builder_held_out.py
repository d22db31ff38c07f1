"""Held-out sets stay held out: a build leaves out traces whose prompt is an eval set item's,
says how many, and keeps them only when asked (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import httpx

from helpers.factories import make_trace
from tunix_rt.evals.evalsets import eval_prompts, iter_eval_set
from tunix_rt.generators.arithmetic import generate_arithmetic


async def test_eval_prompts_are_left_out_and_counted(client: httpx.AsyncClient) -> None:
    held_out = [t.model_dump(mode="json") for t in iter_eval_set("arithmetic-add-sub-v1")][:30]
    for trace in held_out:  # the same prompts, as a user or a model's outputs would store them
        trace["meta"] = {"source": "arithmetic", "from": "eval"}
    training = [t.model_dump(mode="json") for t in generate_arithmetic(40, 3, digits=2)]
    other = [make_trace(n, source="arithmetic") for n in range(5)]
    stored = await client.post("/api/traces/batch", json=held_out + training + other)
    assert stored.status_code == 201, stored.text

    body = {"dataset_name": "arith", "filters": {"source": "arithmetic"}, "limit": 1000}
    built = await client.post("/api/datasets/build", json={**body, "dataset_version": "1"})
    assert built.status_code == 201, built.text
    assert (built.json()["trace_count"], built.json()["eval_prompts_excluded"]) == (45, 30)
    manifest = (await client.get("/api/datasets/arith-1")).json()
    assert (manifest["allow_eval_prompts"], manifest["eval_prompts_excluded"]) == (False, 30)
    exported = await client.get("/api/datasets/arith-1/export.jsonl", params={"format": "trace"})
    prompts = {json.loads(line)["prompts"] for line in exported.text.splitlines()}
    assert not prompts & eval_prompts()

    allowed = await client.post(
        "/api/datasets/build", json={**body, "dataset_version": "2", "allow_eval_prompts": True}
    )
    assert (allowed.json()["trace_count"], allowed.json()["eval_prompts_excluded"]) == (75, 0)
    assert (await client.get("/api/datasets/arith-2")).json()["allow_eval_prompts"] is True

    only_held_out = await client.post(
        "/api/datasets/build",
        json={"dataset_name": "eval", "dataset_version": "1", "filters": {"from": "eval"}},
    )
    assert only_held_out.status_code == 422
    assert only_held_out.json()["detail"][0]["msg"] == (
        "no trace matches the filters (30 that do have eval set prompts, which builds leave out "
        "unless allow_eval_prompts is true)"
    )
