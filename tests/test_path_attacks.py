"""Every identifier a user gives that becomes a path, crossed with every shape of attack on it.

Each attack is refused (a 4xx from the API and the web pages; an `error:` line and exit 1 from
the CLI), nothing outside the data and runs folders changes (a sentinel tree beside them and
the working folder are compared entry by entry: contents and mtimes), and no answer holds the
sentinel's secret. A plain value of every identifier is accepted, so each refusal is the
attack's doing. A run's local paths (`model.path`, `tokenizer.path`) are attacked with
TUNIX_RT_MODELS_DIR set, so that a path outside the models folder is an attack too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from helpers.factories import make_trace
from tunix_rt.cli import app as cli_app
from tunix_rt.runs import store as runs_store
from tunix_rt.runs.paths import run_dir
from tunix_rt.settings import Settings, get_settings

SECRET = f"sentinel-secret-{uuid.uuid4().hex}"
#: From a folder two levels below the temporary folder (`runs/<id>`, `data/datasets`) to the
#: sentinel's secret.
CLIMB = "../../sentinel/secret.txt"


def attacks(sentinel: Path) -> dict[str, str]:
    """Every shape of attack, each aimed at the sentinel's secret."""
    return {
        "..": "..",
        "../x": "../x",
        "climb": CLIMB,
        "absolute": str(sentinel / "secret.txt"),
        "url-encoded": "%2e%2e%2f%2e%2e%2fsentinel%2fsecret.txt",
        "double-encoded": "%252e%252e%252f%252e%252e%252fsentinel%252fsecret.txt",
        "backslashes": "..\\..\\sentinel\\secret.txt",
        "NUL": CLIMB + "\x00.jsonl",
        "U+2024 ONE DOT LEADER": "\u2024\u2024/\u2024\u2024/sentinel/secret.txt",
        "U+FF0E FULLWIDTH FULL STOP": "\uff0e\uff0e/\uff0e\uff0e/sentinel/secret.txt",
        "U+2215 DIVISION SLASH": "..\u2215..\u2215sentinel\u2215secret.txt",
        "U+FF0F FULLWIDTH SOLIDUS": "..\uff0f..\uff0fsentinel\uff0fsecret.txt",
    }


def local_attacks(sentinel: Path, models: Path) -> dict[str, str]:
    """The attacks on a field that takes a local path (a checkpoint, a tokenizer), with
    TUNIX_RT_MODELS_DIR set to `models` (`make_models`): every shape as it is, which a relative
    path takes relative to the models folder; every shape under the models folder; and its
    symlinks out to the sentinel, by relative and by absolute path."""
    found = dict(attacks(sentinel))
    found |= {
        f"{shape}, under the models folder": f"{models}/{value}"
        for shape, value in attacks(sentinel).items()
        if shape != "absolute"
    }
    for name in MODEL_SYMLINKS:
        found[f"symlink {name}"] = name
        found[f"symlink {name}, absolute"] = str(models / name)
    return found


# --- what must not change -------------------------------------------------------------------


def make_sentinel(tmp_path: Path) -> Path:
    """`<tmp>/sentinel`, beside the data and runs folders: a secret and a folder of notes."""
    sentinel = tmp_path / "sentinel"
    (sentinel / "notes").mkdir(parents=True)
    (sentinel / "secret.txt").write_text(SECRET)
    (sentinel / "notes" / "todo.txt").write_text("nothing to see\n")
    return sentinel


#: Names in the models folder that are symlinks out to the sentinel: to its secret, to the
#: folder, and through that folder to the secret.
MODEL_SYMLINKS = ("leak", "leakdir", "leakdir/secret.txt")


def make_models(tmp_path: Path, sentinel: Path) -> Path:
    """`<tmp>/models`, the TUNIX_RT_MODELS_DIR of these tests: a checkpoint folder, a tokenizer
    and the first two `MODEL_SYMLINKS`."""
    models = tmp_path / "models"
    (models / "gemma-2b-it").mkdir(parents=True)
    (models / "tokenizer.model").write_text("pieces")
    (models / "leak").symlink_to(sentinel / "secret.txt")
    (models / "leakdir").symlink_to(sentinel, target_is_directory=True)
    return models


def tree(root: Path, *, contents: bool = True) -> dict[str, tuple[Any, ...]]:
    """Every entry under `root` (symlinks not followed): its kind, its contents (or only its
    size) or target, and its mtime (a folder's changes when an entry is made or removed in it,
    even briefly)."""
    found: dict[str, tuple[Any, ...]] = {".": ("dir", root.stat().st_mtime_ns)}
    for path in sorted(root.rglob("*")):
        stat = path.lstat()
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path), stat.st_mtime_ns)
        elif path.is_dir():
            found[name] = ("dir", stat.st_mtime_ns)
        else:
            body = path.read_bytes() if contents else stat.st_size
            found[name] = ("file", body, stat.st_mtime_ns)
    return found


def outside(tmp_path: Path) -> dict[str, Any]:
    """What lies outside the data and runs folders: the sentinel and models trees, the names
    beside them in
    the temporary folder (the database's own files aside) and the working folder (which
    other tests share: sizes, not contents)."""
    beside = {
        path.name
        for path in tmp_path.iterdir()
        if path.name not in ("data", "runs") and not path.name.startswith("tunix_rt.db")
    }
    return {
        "sentinel": tree(tmp_path / "sentinel"),
        "models": tree(tmp_path / "models"),
        "beside": beside,
        "cwd": tree(Path.cwd(), contents=False),
    }


# --- the API and the web pages --------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The `client` fixture's settings, with the runs and models folders beside the data
    folder."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        runs_dir=tmp_path / "runs",
        models_dir=tmp_path / "models",
    )


Send = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def escaped(value: str) -> str:
    """`value` with every byte percent-escaped, so that the server's path parameter is exactly
    `value` (a client would take `..` out of a URL before sending it)."""
    return "".join(f"%{byte:02X}" for byte in value.encode())


@dataclass(frozen=True)
class Target:
    """An identifier that becomes a path, and how a request carries it."""

    name: str
    send: Send
    plain: str  # a value that is accepted (2xx)
    refused: frozenset[int]  # what an attack on it answers
    in_url: bool = False  # carried in the URL's path (sent `escaped`)
    local: bool = False  # a local path, confined to the models folder (`local_attacks`)


def manifest_yaml(**sections: dict[str, Any]) -> str:
    manifest: dict[str, Any] = {
        "model": {"model_id": "m"},
        "dataset": {"key": "d-v1"},
        "output": {"output_dir": "model"},
    }
    return yaml.safe_dump(manifest | sections)


def api_targets(run_id: uuid.UUID, models: Path) -> list[Target]:
    def post(url: str, body: Callable[[str], dict[str, Any]]) -> Send:
        return lambda client, value: client.post(url, json=body(value))

    def get(url: str) -> Send:
        return lambda client, value: client.get(url.format(value))

    def run(**sections: Callable[[str], dict[str, Any]]) -> Send:
        def send(client: httpx.AsyncClient, value: str) -> Awaitable[httpx.Response]:
            text = manifest_yaml(**{name: make(value) for name, make in sections.items()})
            return client.post("/api/tunix/run", json={"manifest_yaml": text, "dry_run": True})

        return send

    unprocessable = frozenset({422})
    looked_up = frozenset({404, 422})
    not_found = frozenset({404})
    urls = frozenset({404, 422})  # no such route, no such dataset, or not a key
    artifacts = f"/api/tunix/runs/{run_id}/artifacts/{{}}/download"
    return [
        Target(
            "dataset_name",
            post("/api/datasets/build", lambda v: {"dataset_name": v, "dataset_version": "v1"}),
            "ok",
            unprocessable,
        ),
        Target(
            "dataset_version",
            post("/api/datasets/build", lambda v: {"dataset_name": "ver", "dataset_version": v}),
            "v2",
            unprocessable,
        ),
        Target(
            "sft manifest output_dir",
            post(
                "/api/tunix/sft/manifest",
                lambda v: {"dataset_key": "d-v1", "model_id": "m", "output_dir": v},
            ),
            "model",
            unprocessable,
        ),
        Target(
            "run output_dir",
            post(
                "/api/tunix/run",
                lambda v: {
                    "dataset_key": "d-v1",
                    "model_id": "m",
                    "output_dir": v,
                    "dry_run": True,
                },
            ),
            "model",
            unprocessable,
        ),
        Target(
            "manifest output.output_dir",
            run(output=lambda v: {"output_dir": v}),
            "model",
            unprocessable,
        ),
        Target(
            "manifest dataset.key",
            run(dataset=lambda v: {"key": v}),
            "d-v1",
            unprocessable,
        ),
        Target(
            "manifest dataset.path",
            run(dataset=lambda v: {"key": "d-v1", "path": v}),
            "datasets/d-v1/tunix_sft.jsonl",
            unprocessable,
        ),
        Target(
            "manifest model.path",
            run(model=lambda v: {"model_id": "m", "source": "local", "path": v}),
            "gemma-2b-it",
            unprocessable,
            local=True,
        ),
        Target(
            "manifest tokenizer.path",
            run(tokenizer=lambda v: {"path": v}),
            str(models / "tokenizer.model"),
            unprocessable,
            local=True,
        ),
        Target(
            "evaluate evalset",
            post(f"/api/tunix/runs/{run_id}/evaluate", lambda v: {"evalset": v}),
            "arithmetic-v1",
            looked_up,
        ),
        Target(
            "evaluate dataset_key",
            post(f"/api/tunix/runs/{run_id}/evaluate", lambda v: {"dataset_key": v}),
            "d-v1",
            looked_up,
        ),
        Target("GET dataset", get("/api/datasets/{}"), "d-v1", urls, in_url=True),
        Target("export dataset", get("/api/datasets/{}/export.jsonl"), "d-v1", urls, in_url=True),
        Target(
            "DELETE dataset",
            lambda client, value: client.delete(f"/api/datasets/{value}"),
            "gone-v1",
            urls,
            in_url=True,
        ),
        # A NUL anywhere in an API request is refused (422) before the route looks.
        Target("artifact download", get(artifacts), "manifest.yaml", looked_up, in_url=True),
        Target("web dataset page", get("/datasets/{}"), "d-v1", urls, in_url=True),
        Target("web dataset export", get("/datasets/{}/export"), "d-v1", urls, in_url=True),
        Target(
            "web dataset manifest", get("/datasets/{}/manifest.json"), "d-v1", urls, in_url=True
        ),
        Target(
            "web artifact download",
            get(f"/runs/{run_id}/artifacts/{{}}"),
            "model/result.json",
            not_found,
            in_url=True,
        ),
        Target("static file", get("/static/{}"), "app.css", not_found, in_url=True),
    ]


#: Names in the run's folder that are symlinks: out to the secret, out to the sentinel
#: folder, and back in to a file of the run. Downloads follow none of them.
SYMLINKS = ("leak", "leakdir/secret.txt", "inner")


async def make_run(engine: AsyncEngine, runs_dir: Path, sentinel: Path) -> uuid.UUID:
    """A succeeded run whose folder holds two files and the three `SYMLINKS`."""
    manifest = yaml.safe_load(manifest_yaml())
    run_id = await runs_store.create_run(
        engine, dataset_key="d-v1", manifest=manifest, status="succeeded"
    )
    folder = run_dir(runs_dir, run_id)
    (folder / "model").mkdir(parents=True)
    (folder / "manifest.yaml").write_text(manifest_yaml())
    (folder / "model" / "result.json").write_text('{"status": "succeeded"}')
    (folder / "leak").symlink_to(sentinel / "secret.txt")
    (folder / "leakdir").symlink_to(sentinel, target_is_directory=True)
    (folder / "inner").symlink_to(folder / "manifest.yaml")
    return run_id


def traces_with_answers() -> list[dict[str, Any]]:
    return [make_trace(n, meta={"source": "test", "expected_answer": str(2 * n)}) for n in range(3)]


async def test_the_api_and_the_pages_refuse_every_attack(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    sentinel = make_sentinel(tmp_path)
    models = make_models(tmp_path, sentinel)
    assert (await client.post("/api/traces/batch", json=traces_with_answers())).status_code == 201
    for name in ("d", "gone"):
        built = await client.post(
            "/api/datasets/build", json={"dataset_name": name, "dataset_version": "v1"}
        )
        assert built.status_code == 201, built.text
    run_id = await make_run(engine, settings.runs_dir, sentinel)
    targets = api_targets(run_id, models)
    before = outside(tmp_path)

    answers: list[httpx.Response] = []
    wrong: list[str] = []
    for target in targets:
        values = local_attacks(sentinel, models) if target.local else dict(attacks(sentinel))
        if target.name.endswith("artifact download"):
            values |= {f"symlink {name}": name for name in SYMLINKS}
        for shape, value in values.items():
            forms = [value]
            if target.in_url:  # exactly `value`; and an escaped attack as typed (decoded once)
                forms = [escaped(value), *([value] if "%" in value else [])]
            for form in forms:
                answer = await target.send(client, form)
                answers.append(answer)
                if answer.status_code not in target.refused:
                    wrong.append(f"{target.name}, {shape} ({form!r}): {answer.status_code}")
    for target in targets:  # the same requests with a plain value are accepted
        answer = await target.send(client, target.plain)
        answers.append(answer)
        if not answer.is_success:
            wrong.append(f"{target.name}, plain {target.plain!r}: {answer.status_code}")
    assert wrong == [], "\n".join(wrong)

    listed = await client.get(f"/api/tunix/runs/{run_id}/artifacts")
    assert [a["name"] for a in listed.json()] == ["manifest.yaml", "model/result.json"]
    answers.append(listed)
    for answer in answers:
        assert SECRET not in answer.text
        assert all(SECRET not in value for value in answer.headers.values())
    assert outside(tmp_path) == before
    runs = (await client.get("/api/tunix/runs")).json()["data"]
    assert [run["id"] for run in runs] == [str(run_id)]  # every run request was a dry run


# --- the CLI --------------------------------------------------------------------------------


def cli_targets(manifests: Path) -> dict[str, tuple[Callable[[str], list[str]], str]]:
    """Each command that takes an identifier becoming a path: its arguments for a value, and
    the field its refusal names (a lookup's refusal names nothing in particular)."""

    def train(section: str, make: Callable[[str], dict[str, Any]]) -> Callable[[str], list[str]]:
        def arguments(value: str) -> list[str]:
            path = manifests / f"{uuid.uuid4().hex}.yaml"
            path.write_text(manifest_yaml(**{section: make(value)}))
            return ["train", str(path)]

        return arguments

    return {
        "datasets build NAME": (lambda v: ["datasets", "build", v, "v1"], "dataset_name"),
        "datasets build VERSION": (lambda v: ["datasets", "build", "d", v], "dataset_version"),
        "datasets show KEY": (lambda v: ["datasets", "show", v], ""),
        "export KEY": (lambda v: ["export", v, "-o", "-"], ""),
        "manifest KEY": (
            lambda v: ["manifest", v, "--model-id", "m", "--output-dir", "model"],
            "",
        ),
        "manifest --output-dir": (
            lambda v: ["manifest", "d-v1", "--model-id", "m", "--output-dir", v],
            "output_dir",
        ),
        "evalsets export NAME": (lambda v: ["evalsets", "export", v, "-o", "-"], ""),
        "train output.output_dir": (
            train("output", lambda v: {"output_dir": v}),
            "manifest output.output_dir",
        ),
        "train dataset.path": (
            train("dataset", lambda v: {"key": "d-v1", "path": v}),
            "manifest dataset.path",
        ),
        "train model.path": (
            train("model", lambda v: {"model_id": "m", "source": "local", "path": v}),
            "manifest model.path",
        ),
        "train tokenizer.path": (
            train("tokenizer", lambda v: {"path": v}),
            "manifest tokenizer.path",
        ),
    }


def test_the_cli_refuses_every_attack(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real commands, run in this process (a process per case would take a minute)."""
    sentinel = make_sentinel(tmp_path)
    models = make_models(tmp_path, sentinel)
    for folder in ("data", "runs", "manifests"):
        (tmp_path / folder).mkdir()
    for name in [n for n in os.environ if n.startswith("TUNIX_RT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TUNIX_RT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("TUNIX_RT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TUNIX_RT_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("TUNIX_RT_MODELS_DIR", str(models))
    get_settings.cache_clear()
    targets = cli_targets(tmp_path / "manifests")
    local_fields = ("train model.path", "train tokenizer.path")
    cases: list[tuple[str, str, list[str], str]] = []
    for name, (arguments, field) in targets.items():
        shapes = local_attacks(sentinel, models) if name in local_fields else attacks(sentinel)
        for shape, value in shapes.items():
            cases.append((name, shape, arguments(value), field))
    before = outside(tmp_path)

    runner = CliRunner()
    wrong: list[str] = []
    try:
        for name, shape, args, field in cases:
            result = runner.invoke(cli_app, args)
            assert SECRET not in result.output
            crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
            if result.exit_code != 1 or crashed or "error:" not in result.output:
                wrong.append(f"{name}, {shape}: exit {result.exit_code} {result.output[-300:]!r}")
            elif field not in result.output:
                wrong.append(f"{name}, {shape}: the error does not name {field}: {result.output!r}")
    finally:
        get_settings.cache_clear()
    assert wrong == [], "\n".join(wrong)
    assert outside(tmp_path) == before
    assert list((tmp_path / "runs").iterdir()) == []
