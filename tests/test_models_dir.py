"""TUNIX_RT_MODELS_DIR: when set, a run's `model.path` and `tokenizer.path` must resolve
(symlinks followed) inside it, and a relative one is taken relative to it; unset, any absolute
path is read as given. Through the API (both backends), `tunix-rt train` and the worker that
executes a queued run. Nothing here trains: a refusal comes before training, and an accepted
manifest is a dry run, a queued run or the next check's refusal."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from helpers.factories import make_trace
from tunix_rt.cli import app as cli_app
from tunix_rt.evals import service as evals_service
from tunix_rt.evals import store as evals_store
from tunix_rt.evals.job import execute_evaluation
from tunix_rt.evals.schema import EvaluationOptions
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.executor import RunExecutor
from tunix_rt.runs.foreground import foreground_job
from tunix_rt.runs.worker import execute_run
from tunix_rt.settings import Settings, get_settings

CONFINED = "must be inside TUNIX_RT_MODELS_DIR"


def make_models(tmp_path: Path) -> Path:
    """`<tmp>/models` with a checkpoint folder, and symlinks out of it: `escape` to a folder
    beside it, `escape.model` to a file there. Also `<tmp>/models-other`, whose name starts
    with the models folder's."""
    models = tmp_path / "models"
    (models / "gemma").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "tokenizer.model").write_text("not yours")
    (models / "escape").symlink_to(elsewhere, target_is_directory=True)
    (models / "escape.model").symlink_to(elsewhere / "tokenizer.model")
    (tmp_path / "models-other").mkdir()
    return models


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return make_models(tmp_path)


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, models: Path
) -> Settings:
    """The `client` fixture's settings: TUNIX_RT_MODELS_DIR is the models folder, unless the
    test parametrizes this fixture with False."""
    confined = getattr(request, "param", True)
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        models_dir=models if confined else None,
    )


def manifest_yaml(model_path: str | None = None, tokenizer_path: str | None = None) -> str:
    """A manifest of dataset d-v1: a local model at `model_path`, or the tiny one (with the
    tokenizer at `tokenizer_path`, when given)."""
    manifest: dict[str, Any] = {
        "model": {"model_id": "m"},
        "dataset": {"key": "d-v1"},
        "output": {"output_dir": "model"},
    }
    if model_path is not None:
        manifest["model"] |= {"source": "local", "path": model_path}
    if tokenizer_path is not None:
        manifest["tokenizer"] = {"path": tokenizer_path}
    return yaml.safe_dump(manifest)


async def build_dataset(client: httpx.AsyncClient) -> None:
    traces = [make_trace(n) for n in range(3)]
    assert (await client.post("/api/traces/batch", json=traces)).status_code == 201
    built = await client.post(
        "/api/datasets/build", json={"dataset_name": "d", "dataset_version": "v1"}
    )
    assert built.status_code == 201, built.text


async def dry_run(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post("/api/tunix/run", json={"manifest_yaml": text, "dry_run": True})


def loaded(answer: httpx.Response) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(answer.json()["manifest_yaml"])
    return manifest


def resolved(path: Path) -> Path:
    return path.resolve()


# --- the API --------------------------------------------------------------------------------


async def test_paths_inside_the_models_folder_are_accepted(
    client: httpx.AsyncClient, models: Path
) -> None:
    await build_dataset(client)
    root = resolved(models)

    absolute = await dry_run(client, manifest_yaml(str(models / "gemma")))
    assert absolute.status_code == 200, absolute.text
    assert loaded(absolute)["model"]["path"] == str(models / "gemma")  # kept as given

    relative = await dry_run(client, manifest_yaml("gemma", tokenizer_path=None))
    assert relative.status_code == 200, relative.text
    assert loaded(relative)["model"]["path"] == str(root / "gemma")

    tokenizer = await dry_run(client, manifest_yaml(tokenizer_path="gemma/tokenizer.model"))
    assert tokenizer.status_code == 200, tokenizer.text
    assert loaded(tokenizer)["tokenizer"]["path"] == str(root / "gemma" / "tokenizer.model")

    queued = await client.post(
        "/api/tunix/run", json={"manifest_yaml": manifest_yaml("gemma", "gemma/tokenizer.model")}
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    run = (await client.get(f"/api/tunix/runs/{queued.json()['run_id']}")).json()
    assert run["manifest"]["model"]["path"] == str(root / "gemma")  # what the worker reads
    assert run["manifest"]["tokenizer"]["path"] == str(root / "gemma" / "tokenizer.model")


def outside_cases(tmp_path: Path) -> list[tuple[str, str, bool]]:
    """(field, value, refused by the models folder rather than by the manifest's `..` rule)."""
    models = tmp_path / "models"
    return [
        ("model", str(tmp_path / "elsewhere"), True),
        ("model", str(tmp_path / "models-other"), True),  # a name that only starts alike
        ("model", "escape", True),  # a symlink inside to a folder outside
        ("model", str(models / "escape"), True),
        ("model", "../elsewhere", False),
        ("model", f"{models}/../elsewhere", False),
        ("tokenizer", str(tmp_path / "elsewhere" / "tokenizer.model"), True),
        ("tokenizer", "escape.model", True),  # a symlink inside to a file outside
        ("tokenizer", "escape/tokenizer.model", True),  # through a symlinked folder
        ("tokenizer", "../elsewhere/tokenizer.model", False),
        ("tokenizer", "/", True),
    ]


async def test_paths_outside_the_models_folder_are_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await build_dataset(client)
    for field, value, by_models_dir in outside_cases(tmp_path):
        text = (
            manifest_yaml(model_path=value)
            if field == "model"
            else manifest_yaml(tokenizer_path=value)
        )
        for dry in (True, False):
            answer = await client.post(
                "/api/tunix/run", json={"manifest_yaml": text, "dry_run": dry}
            )
            assert answer.status_code == 422, (field, value, answer.text)
            [error] = answer.json()["detail"]
            assert error["loc"] == ["body", "manifest_yaml", field, "path"], (value, error)
            assert f"{field}.path" in error["msg"]
            if by_models_dir:
                assert CONFINED in error["msg"], (value, error)
            else:
                assert "'..'" in error["msg"], (value, error)
    runs = (await client.get("/api/tunix/runs")).json()["data"]
    assert runs == []


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_without_a_models_folder_any_absolute_path_is_accepted(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await build_dataset(client)
    anywhere = str(tmp_path / "elsewhere")
    answer = await dry_run(client, manifest_yaml(anywhere))
    assert answer.status_code == 200, answer.text
    assert loaded(answer)["model"]["path"] == anywhere
    symlinked = str(tmp_path / "models" / "escape.model")
    answer = await dry_run(client, manifest_yaml(tokenizer_path=symlinked))
    assert answer.status_code == 200, answer.text
    assert loaded(answer)["tokenizer"]["path"] == symlinked

    relative = await dry_run(client, manifest_yaml("gemma"))  # relative to nothing
    assert relative.status_code == 422
    [error] = relative.json()["detail"]
    assert error["loc"] == ["body", "manifest_yaml", "model", "path"]
    assert "TUNIX_RT_MODELS_DIR" in error["msg"] and "absolute" in error["msg"]


async def test_a_run_started_from_another_is_refused_when_its_model_path_is_outside(
    client: httpx.AsyncClient, engine: AsyncEngine, models: Path, tmp_path: Path
) -> None:
    """A run started from another (`model.init_from_run`) rebuilds that run's model from its
    model.path, so that path is checked too."""
    await build_dataset(client)
    starts: dict[str, str] = {}
    for name, path in (("inside", str(models / "gemma")), ("outside", str(tmp_path / "elsewhere"))):
        source = yaml.safe_load(manifest_yaml(path))
        run_id = await runs_store.create_run(
            engine, dataset_key="d-v1", manifest=source, status="succeeded"
        )
        text = yaml.safe_dump(
            {
                "mode": "dpo",
                "model": {"model_id": "m", "init_from_run": str(run_id)},
                "dataset": {"key": "d-v1"},
                "output": {"output_dir": "model"},
            }
        )
        starts[name] = text
    accepted = await dry_run(client, starts["inside"])
    assert accepted.status_code == 200, accepted.text
    refused = await dry_run(client, starts["outside"])
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "manifest_yaml", "model", "init_from_run"]
    assert "model.path" in error["msg"] and CONFINED in error["msg"]


async def test_the_worker_checks_a_queued_run_again(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """A run queued before TUNIX_RT_MODELS_DIR was set (or whose symlink changed since) fails
    when it starts, before it reads anything."""
    manifest = yaml.safe_load(manifest_yaml(str(tmp_path / "elsewhere")))
    run_id = await runs_store.create_run(
        engine, dataset_key="d-v1", manifest=manifest, status="running"
    )
    with foreground_job(None) as here:
        status = await execute_run(engine, settings, run_id, here)
    assert status == "failed"
    async with engine.connect() as conn:
        run = await runs_store.get_run(conn, run_id)
    assert run.error is not None and "model.path" in run.error and CONFINED in run.error
    assert not (settings.runs_dir / str(run_id)).exists()  # refused before the run's folder


async def test_the_executor_gives_its_worker_the_models_folder(
    engine: AsyncEngine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's models folder (here given to it, not in the environment) is the one its
    worker process checks a run against."""
    monkeypatch.delenv("TUNIX_RT_MODELS_DIR", raising=False)
    manifest = yaml.safe_load(manifest_yaml(tokenizer_path=str(tmp_path / "models" / "leak")))
    (tmp_path / "models" / "leak").symlink_to(tmp_path / "elsewhere" / "tokenizer.model")
    run_id = await runs_store.create_run(engine, dataset_key="d-v1", manifest=manifest)
    executor = RunExecutor(engine, settings)
    deadline = time.monotonic() + 120
    while True:
        await executor.tick()
        async with engine.connect() as conn:
            run = await runs_store.get_run(conn, run_id)
        if run.status in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert run.status == "failed"
    assert run.error is not None and "tokenizer.path" in run.error and CONFINED in run.error


async def test_an_evaluation_checks_the_run_s_model_path_again(
    engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """Evaluating a run rebuilds its model from model.path: a path that no longer resolves
    inside the models folder fails the evaluation before anything is read."""
    manifest = yaml.safe_load(manifest_yaml(str(tmp_path / "models" / "moved")))
    (tmp_path / "models" / "moved").symlink_to(tmp_path / "elsewhere")
    run_id = await runs_store.create_run(
        engine, dataset_key="d-v1", manifest=manifest, status="succeeded"
    )
    options = EvaluationOptions(evalset="arithmetic-add-sub-v1", limit=2)
    accepted = await evals_service.submit(engine, run_id, options, status="running")
    with foreground_job(None) as here:
        status = await execute_evaluation(engine, settings, accepted.evaluation_id, here)
    assert status == "failed"
    async with engine.connect() as conn:
        evaluation = await evals_store.get_evaluation(conn, accepted.evaluation_id)
    assert evaluation.error is not None and CONFINED in evaluation.error


# --- the CLI --------------------------------------------------------------------------------


def test_tunix_rt_train_refuses_paths_outside_the_models_folder(
    sqlite_url: str, tmp_path: Path, models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real command in this process; no dataset exists, so a manifest that gets past the
    models folder is refused by the next check (its dataset) instead, without training."""
    for name in [n for n in os.environ if n.startswith("TUNIX_RT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TUNIX_RT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TUNIX_RT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TUNIX_RT_DATA_DIR", str(tmp_path / "data"))

    def train(text: str) -> tuple[int, str]:
        path = tmp_path / f"{uuid.uuid4().hex}.yaml"
        path.write_text(text)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli_app, ["train", str(path)])
        finally:
            get_settings.cache_clear()
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.exit_code, result.output

    monkeypatch.setenv("TUNIX_RT_MODELS_DIR", str(models))
    wrong: list[str] = []
    for field, value, by_models_dir in outside_cases(tmp_path):
        text = (
            manifest_yaml(model_path=value)
            if field == "model"
            else manifest_yaml(tokenizer_path=value)
        )
        code, output = train(text)
        wanted = CONFINED if by_models_dir else "'..'"
        if code != 1 or "error:" not in output or f"manifest {field}.path" not in output:
            wrong.append(f"{field} {value}: exit {code} {output!r}")
        elif wanted not in output:
            wrong.append(f"{field} {value}: no {wanted!r} in {output!r}")
    assert wrong == [], "\n".join(wrong)

    for text in (
        manifest_yaml("gemma"),
        manifest_yaml(str(models / "gemma"), "gemma/tokenizer.model"),
    ):
        code, output = train(text)
        assert code == 1 and "dataset d-v1 not found" in output, output
        assert "TUNIX_RT_MODELS_DIR" not in output

    monkeypatch.delenv("TUNIX_RT_MODELS_DIR")
    code, output = train(manifest_yaml(str(tmp_path / "elsewhere")))
    assert code == 1 and "dataset d-v1 not found" in output, output
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
