"""The exact 422 bodies of the checks services make (SQLite and PostgreSQL): each names the field
where the request carries it, `query` for a GET's parameters and `body` for a POST's fields."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace
from tunix_rt.api.app import create_app
from tunix_rt.evals import store
from tunix_rt.evals.schema import EvaluationOptions, EvaluationTarget
from tunix_rt.runs import jobs
from tunix_rt.runs import store as runs_store
from tunix_rt.settings import Settings

MANIFEST: dict[str, Any] = {
    "model": {"model_id": "tunix-rt/tiny"},
    "dataset": {"key": "d-1", "path": "datasets/d-1/tunix_sft.jsonl"},
    "output": {"output_dir": "model"},
}


def invalid(loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}


async def assert_422(response: httpx.Response, loc: list[str | int], msg: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == invalid(loc, msg)


async def test_trace_list_cursor_is_a_query_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/traces", params={"cursor": "zzz"})
    await assert_422(response, ["query", "cursor"], "cursor is not one that a trace list returned")
    response = await client.get("/api/traces", params={"cursor": "zzz", "offset": 1})
    await assert_422(response, ["query", "cursor"], "use either offset or cursor, not both")


async def test_dataset_checks_name_their_field(client: httpx.AsyncClient) -> None:
    for n in range(4):
        assert (await client.post("/api/traces", json=make_trace(n))).status_code == 201
    build = {"dataset_name": "x", "dataset_version": "1", "filters": {"source": "nope"}}
    response = await client.post("/api/datasets/build", json=build)
    await assert_422(response, ["body", "filters"], "no trace matches the filters")
    split = {"dataset_name": "d", "dataset_version": "1", "seed": 1}
    split["splits"] = {"train": 0.5, "val": 0.5}
    assert (await client.post("/api/datasets/build", json=split)).status_code == 201
    response = await client.get("/api/datasets/d-1/export.jsonl", params={"split": "nope"})
    await assert_422(
        response, ["query", "split"], "dataset d-1 has no split 'nope' (splits: train, val)"
    )


async def test_run_manifest_errors_name_the_manifest_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/tunix/run", json={"manifest_yaml": "a: [unclosed"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "manifest_yaml"]
    assert error["msg"].startswith("manifest is not valid YAML: while parsing a flow sequence")
    manifest = {**MANIFEST, "training": {"batch_size": 0}}
    response = await client.post("/api/tunix/run", json={"manifest_yaml": yaml.safe_dump(manifest)})
    await assert_422(
        response,
        ["body", "manifest_yaml", "training", "batch_size"],
        "manifest training.batch_size: Input should be greater than or equal to 1",
    )


async def test_run_errors_of_our_own_checks_carry_no_pydantic_prefix(
    client: httpx.AsyncClient,
) -> None:
    """Pydantic words a validator's ValueError as `Value error, ...`; the message is ours alone."""
    manifest = {**MANIFEST, "model": {"model_id": "m", "source": "local"}}
    response = await client.post("/api/tunix/run", json={"manifest_yaml": yaml.safe_dump(manifest)})
    await assert_422(
        response,
        ["body", "manifest_yaml", "model"],
        "manifest model: model.path is required when model.source is local",
    )
    fields = {"dataset_key": "d-1", "model_id": "m", "output_dir": "../x"}
    response = await client.post("/api/tunix/run", json=fields)
    await assert_422(
        response, ["body", "output_dir"], "output_dir must stay inside its folder (no '..')"
    )


async def test_evaluation_checks_name_their_field(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    for n in range(4):
        assert (await client.post("/api/traces", json=make_trace(n))).status_code == 201
    split = {"dataset_name": "d", "dataset_version": "1", "seed": 1}
    split["splits"] = {"train": 0.5, "val": 0.5}
    assert (await client.post("/api/datasets/build", json=split)).status_code == 201
    run_id = await runs_store.create_run(engine, dataset_key="d-1", manifest=MANIFEST)
    await jobs.finish(engine, "run", run_id, "succeeded", result={"checkpoint_step": 10})

    evaluate = f"/api/tunix/runs/{run_id}/evaluate"
    response = await client.post(evaluate, json={"dataset_key": "d-1", "split": "nope"})
    await assert_422(
        response, ["body", "split"], "dataset d-1 has no split 'nope' (splits: train, val)"
    )
    response = await client.post(evaluate, json={"dataset_key": "d-1"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "dataset_key"]
    assert "of dataset d-1 has no meta.expected_answer" in error["msg"]

    ids: list[uuid.UUID] = []
    for name, digest in (("arithmetic-add-sub-v1", "ab"), ("arithmetic-v1", "cd")):
        target = EvaluationTarget(kind="evalset", name=name, sha256=digest * 32, items=4)
        ids.append(
            await store.create_evaluation(
                engine,
                run_id=run_id,
                model_id="m",
                options=EvaluationOptions(evalset=name),
                target=target,
            )
        )
    a, b = ids
    compare = "/api/tunix/evaluations/compare"
    response = await client.get(compare, params={"a": str(a), "b": str(b)})
    await assert_422(
        response,
        ["query", "b"],
        f"evaluations {a} and {b} are of different targets "
        "(arithmetic-add-sub-v1 abababababab vs arithmetic-v1 cdcdcdcdcdcd)",
    )
    response = await client.get(compare, params={"a": str(a), "b": str(a), "cursor": "zzz"})
    await assert_422(response, ["query", "cursor"], "cursor is not one that a comparison returned")
    response = await client.get("/api/tunix/evaluations", params={"cursor": "zzz"})
    await assert_422(
        response, ["query", "cursor"], "cursor is not one that an evaluation list returned"
    )
    response = await client.get(f"/api/tunix/evaluations/{a}/items", params={"cursor": "WyJ4Il0"})
    await assert_422(response, ["query", "cursor"], "cursor is not one that an item list returned")


def test_no_route_with_a_body_takes_query_parameters(settings: Settings) -> None:
    """What lets the API place a field by the request's method alone (`api.errors.request_loc`)."""
    paths = create_app(settings).openapi()["paths"]
    mixed = [
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "requestBody" in operation
        and any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
    ]
    assert mixed == []
    methods = {method.upper() for operations in paths.values() for method in operations}
    assert methods <= {"GET", "POST", "DELETE"}  # GET and DELETE carry no body
