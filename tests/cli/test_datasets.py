"""`tunix-rt datasets build|list|show`, `tunix-rt export` and `tunix-rt manifest` as processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import httpx
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from helpers.factories import make_trace, write_jsonl
from helpers.server import cli_env, run_cli


def tunix_rt(url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_cli(cli_env(url, TUNIX_RT_DATA_DIR=str(data_dir), COLUMNS="200"), *args)


def test_build_export_manifest_round(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    lines = [make_trace(n, source="a" if n % 2 else "b") for n in range(20)]
    source = tmp_path / "in.jsonl"
    write_jsonl(source, lines)
    assert tunix_rt(database_url, data, "traces", "import", str(source)).returncode == 0

    built = tunix_rt(
        database_url,
        data,
        "datasets",
        "build",
        "cli",
        "v1",
        "--source",
        "a",
        "--random",
        "--seed",
        "4",
        "--limit",
        "8",
        "--split",
        "train=0.75",
        "--split",
        "val=0.25",
    )
    assert built.returncode == 0, built.stderr
    assert "built cli-v1: 8 traces" in built.stderr.decode()
    result = json.loads(built.stdout)
    manifest_file = Path(result["manifest_path"])
    assert manifest_file == (data / "datasets" / "cli-v1" / "manifest.json").resolve()

    listed = tunix_rt(database_url, data, "datasets", "list").stdout.decode().splitlines()
    assert listed[0] == "key\ttrace_count\tcreated_at\texport_sha256"
    assert listed[1].startswith("cli-v1\t8\t")
    shown = json.loads(tunix_rt(database_url, data, "datasets", "show", "cli-v1").stdout)
    assert shown == json.loads(manifest_file.read_text())
    assert shown["stats"]["split_counts"] == {"train": 6, "val": 2}
    assert shown["filters"] == {"source": "a"}

    canonical = tmp_path / "canonical.jsonl"
    exported = tunix_rt(database_url, data, "export", "cli-v1", "-o", str(canonical))
    assert exported.returncode == 0, exported.stderr
    assert "exported 8 records" in exported.stderr.decode()
    assert hashlib.sha256(canonical.read_bytes()).hexdigest() == shown["export_sha256"]

    val = tunix_rt(
        database_url, data, "export", "cli-v1", "--format", "tunix_sft", "--split", "val", "-o", "-"
    )
    assert len(val.stdout.splitlines()) == 2
    assert all(
        json.loads(x)["prompts"].startswith("<start_of_turn>user\n")
        for x in val.stdout.splitlines()
    )

    run_yaml = tmp_path / "run.yaml"
    made = tunix_rt(
        database_url,
        data,
        "manifest",
        "cli-v1",
        "--model-id",
        "google/gemma-2b-it",
        "-o",
        str(run_yaml),
    )
    assert made.returncode == 0, made.stderr
    loaded = yaml.safe_load(run_yaml.read_text())
    assert loaded["dataset"] == {
        "key": "cli-v1",
        "format": "tunix_sft",
        "path": "datasets/cli-v1/tunix_sft.jsonl",
    }
    assert loaded["output"] == {"output_dir": "cli-v1"}

    orpo = tunix_rt(database_url, data, "manifest", "cli-v1", "--model-id", "m", "--mode", "orpo")
    assert orpo.returncode == 0, orpo.stderr
    loaded = yaml.safe_load(orpo.stdout)
    assert (loaded["mode"], loaded["dataset"]["format"]) == ("orpo", "preference")


def test_cli_errors_are_one_line(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    cases = [
        (["datasets", "build", "x", "v1"], "error: no trace matches the filters"),
        (["datasets", "build", "x", "v1", "--random"], "needs a seed"),
        (["datasets", "build", "a/b", "v1"], "dataset_name: String should match pattern"),
        (["datasets", "build", "x", "v1", "--meta", "novalue"], "--meta takes NAME=VALUE"),
        (["datasets", "show", "nope-1"], "error: dataset nope-1 not found"),
        (["export", "nope-1", "-o", "-"], "error: dataset nope-1 not found"),
        (["manifest", "nope-1", "--model-id", "m"], "error: dataset nope-1 not found"),
        (["manifest", "x-1", "--model-id", "m", "--output-dir", "../out"], "must stay inside"),
        (["manifest", "x-1", "--model-id", "m", "--init-from-run", "7"], "'7' is not a run id"),
        (
            ["manifest", "x-1", "--model-id", "m", "--init-from-run", str(uuid.UUID(int=7))],
            "error: init_from_run is only used with mode grpo, dpo or orpo",
        ),
    ]
    for args, message in cases:
        result = tunix_rt(database_url, data, *args)
        stderr = result.stderr.decode()
        assert result.returncode == 1, (args, stderr)
        assert message in stderr, (args, stderr)
        assert "Traceback" not in stderr
    assert not (data / "datasets").exists()


def test_cli_export_copies_the_cached_export(database_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    source = tmp_path / "in.jsonl"
    write_jsonl(source, [make_trace(n) for n in range(30)])
    assert tunix_rt(database_url, data, "traces", "import", str(source)).returncode == 0
    built = tunix_rt(database_url, data, "datasets", "build", "cli", "v1", "--limit", "30")
    assert built.returncode == 0, built.stderr
    args = ("export", "cli-v1", "--format", "tunix_sft", "-o")
    first = tunix_rt(database_url, data, *args, str(tmp_path / "a.jsonl"))
    assert first.returncode == 0, first.stderr
    assert "exported 30 records" in first.stderr.decode()
    assert "export cache" not in first.stderr.decode()
    second = tunix_rt(database_url, data, *args, str(tmp_path / "b.jsonl"))
    assert "exported 30 records" in second.stderr.decode()
    assert "copied from the export cache" in second.stderr.decode()
    to_stdout = tunix_rt(database_url, data, *args, "-")
    assert "copied from the export cache" in to_stdout.stderr.decode()
    expected = (tmp_path / "a.jsonl").read_bytes()
    assert expected.count(b"\n") == 30
    assert (tmp_path / "b.jsonl").read_bytes() == expected
    assert to_stdout.stdout == expected


async def test_a_date_or_a_naive_time_means_utc_in_the_cli_and_the_api(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    times = ["2019-12-31T23:30:00Z", "2020-01-01T00:00:00Z", "2020-01-01T00:30:00Z"]
    times += ["2020-01-01T01:00:00Z", "2020-01-02T00:00:00Z"]
    lines = [make_trace(n, prompt=f"clock {n}", created_at=t) for n, t in enumerate(times)]
    source = tmp_path / "in.jsonl"
    write_jsonl(source, lines)
    assert tunix_rt(database_url, data, "traces", "import", str(source)).returncode == 0

    after, before = "2020-01-01", "2020-01-01T01:00:00"
    args = ("--created-after", after, "--created-before", before)
    built = tunix_rt(database_url, data, "datasets", "build", "cli", "v1", *args)
    assert built.returncode == 0, built.stderr
    assert "built cli-v1: 2 traces" in built.stderr.decode()
    filters = {"created_after": after, "created_before": before}
    body = {"dataset_name": "api", "dataset_version": "v1", "filters": filters}
    assert (await client.post("/api/datasets/build", json=body)).status_code == 201

    by_cli = (await client.get("/api/datasets/cli-v1")).json()
    by_api = (await client.get("/api/datasets/api-v1")).json()
    listed = (await client.get("/api/traces", params={"limit": 10})).json()["data"]
    at = {t["created_at"]: t["id"] for t in listed}
    expected = [at["2020-01-01T00:30:00Z"], at["2020-01-01T00:00:00Z"]]
    assert by_cli["trace_ids"] == by_api["trace_ids"] == expected
    utc = {"created_after": "2020-01-01T00:00:00Z", "created_before": "2020-01-01T01:00:00Z"}
    assert by_cli["filters"] == by_api["filters"] == utc


def test_a_build_that_leaves_matching_traces_out_says_how_many_matched(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    source = tmp_path / "in.jsonl"
    lines = [make_trace(n, prompt=f"count {n}") for n in range(1200)]
    write_jsonl(source, lines)
    assert tunix_rt(database_url, data, "traces", "import", str(source)).returncode == 0

    taken = tunix_rt(database_url, data, "datasets", "build", "some", "v1")
    assert taken.returncode == 0, taken.stderr
    assert taken.stderr.decode() == (
        "built some-v1: 100 of 1,200 matching traces (--limit to take more)\n"
    )
    assert json.loads(taken.stdout)["trace_count"] == 100

    everything = tunix_rt(database_url, data, "datasets", "build", "all", "v1", "--limit", "5000")
    assert everything.returncode == 0, everything.stderr
    assert everything.stderr.decode() == "built all-v1: 1,200 traces\n"


async def test_build_from_an_evaluation_exports_preference_pairs_and_refuses_clearly(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    from helpers.evaluations import (
        TRACE_IDS,
        export_bytes,
        record_evaluation,
        source_dataset,
        store_traces,
    )

    data = tmp_path / "data"
    await store_traces(engine)
    key = await source_dataset(engine, data)
    answers = {TRACE_IDS[3]: "66", TRACE_IDS[2]: "64", TRACE_IDS[1]: "46", TRACE_IDS[0]: "42"}
    evaluation_id = await record_evaluation(engine, key, answers)

    built = tunix_rt(
        database_url, data, "datasets", "build", "pairs", "1", "--pairs-from-evaluation",
        str(evaluation_id),
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert built.stderr.decode() == "built pairs-1: 4 traces; the evaluation got 1 of them wrong\n"
    assert json.loads(built.stdout)["evaluation_wrong"] == 1
    wrong = tunix_rt(
        database_url, data, "datasets", "build", "pairs", "2", "--pairs-from-evaluation",
        str(evaluation_id), "--only-wrong",
    )  # fmt: skip
    assert wrong.returncode == 0, wrong.stderr
    assert wrong.stderr.decode() == "built pairs-2: 1 traces; the evaluation got 1 of them wrong\n"
    out = tmp_path / "pairs.jsonl"
    exported = tunix_rt(
        database_url, data, "export", "pairs-1", "--format", "preference", "-o", str(out)
    )
    assert exported.returncode == 0, exported.stderr
    assert out.read_bytes() == await export_bytes(engine, "pairs-1")
    assert [json.loads(line)["metadata"]["rejected_source"] for line in out.open("rb")] == [
        "corrupted_step",
        "corrupted_answer",
        "evaluation",
        "corrupted_answer",
    ]

    unknown = uuid.UUID(int=5)
    failed = await record_evaluation(engine, key, answers, status="failed")
    held_out = await record_evaluation(engine, key, answers, evalset=True)
    cases = [
        (["--pairs-from-evaluation", str(unknown)], f"evaluation {unknown} not found"),
        (
            ["--pairs-from-evaluation", str(failed)],
            f"evaluation {failed} is failed: only a succeeded evaluation's items can be paired",
        ),
        (
            ["--pairs-from-evaluation", str(held_out)],
            f"evaluation {held_out} is of the eval set arithmetic-add-sub-v1, whose items are "
            "not stored traces and must stay unseen by training; evaluate a dataset (or its "
            "train split) and pair from that evaluation instead",
        ),
        (["--pairs-from-evaluation", "nope"], "'nope' is not an evaluation id (UUID)"),
    ]
    for args, message in cases:
        result = tunix_rt(database_url, data, "datasets", "build", "x", "1", *args)
        assert (result.returncode, result.stderr.decode()) == (
            1,
            f"error: --pairs-from-evaluation: {message}\n",
        ), args
    alone = tunix_rt(database_url, data, "datasets", "build", "x", "1", "--only-wrong")
    assert (alone.returncode, alone.stderr.decode()) == (
        1,
        "error: --only-wrong: needs --pairs-from-evaluation\n",
    )
    assert not (data / "datasets" / "x-1").exists()
