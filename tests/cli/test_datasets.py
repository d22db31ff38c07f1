"""`tunix-rt datasets build|list|show`, `tunix-rt export` and `tunix-rt manifest` as processes."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import httpx
import yaml

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
