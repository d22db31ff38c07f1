"""One tiny model trained once per test session, for the tests that only need *a* trained run
to evaluate, compare or read (the tests of training itself train their own), and a way to
record a copy of it as a finished run of a database.

The model: the tiny model (width 128) trained for 600 steps on 2,000 two-digit additions. That
is enough for it to answer held-out additions in the trained layout (tests/training/
test_evaluate.py checks how well). It trains in a child process (the test process never
imports JAX) into the session's shared folder, which child pytest runs inherit through
SHARED_DIR_ENV, so the whole session trains it once.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tunix_rt.formats import encode_line, render
from tunix_rt.generators.arithmetic import generate_arithmetic
from tunix_rt.runs.manifest import RunManifest

SHARED_DIR_ENV = "TUNIX_TESTS_SHARED_DIR"

ADDITIONS_TRACES = 2000
ADDITIONS_STEPS = 600
#: The trained run's files: its manifest, dataset and model folder (`output.output_dir`).
ADDITIONS_DATASET = "dataset.jsonl"
ADDITIONS_MODEL = "model"


def write_arithmetic_jsonl(
    path: Path, count: int, *, digits: int = 2, operation: str = "add", seed: int = 0
) -> Path:
    """`count` arithmetic traces rendered as `tunix_sft` JSON Lines."""
    with path.open("wb") as out:
        for index, trace in enumerate(
            generate_arithmetic(count, seed, digits=digits, operation=operation)
        ):
            payload = trace.model_dump(mode="json")
            out.write(encode_line(render("tunix_sft", f"arith-{index}", payload)))
    return path


def additions_manifest() -> RunManifest:
    return RunManifest.model_validate(
        {
            "model": {"model_id": "tunix-rt/tiny", "width": 128},
            "dataset": {"key": "additions-v1", "path": "datasets/additions-v1/tunix_sft.jsonl"},
            "training": {
                "learning_rate": 3e-3,
                "batch_size": 8,
                "max_seq_length": 256,
                "max_steps": ADDITIONS_STEPS,
            },
            "output": {"output_dir": ADDITIONS_MODEL},
        }
    )


_TRAIN = (
    "import sys; from pathlib import Path; "
    "from tunix_rt.runs.manifest import RunManifest; "
    "from tunix_rt.training.runner import run_training; "
    "run_training(RunManifest.from_yaml(Path(sys.argv[1]).read_text()), "
    "dataset_jsonl=Path(sys.argv[2]), output_dir=Path(sys.argv[3]))"
)


def trained_additions() -> Path:
    """The folder of the session's trained additions run (trained on first use): `manifest.yaml`,
    `dataset.jsonl` and the model folder `model/` (`ADDITIONS_MODEL`). Read it; copy it to
    write into it."""
    shared = os.environ.get(SHARED_DIR_ENV)
    assert shared, f"{SHARED_DIR_ENV} is set by the session fixture in tests/conftest.py"
    folder = Path(shared) / "additions"
    done = folder / "done"
    with (Path(shared) / "additions.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            manifest = folder / "manifest.yaml"
            manifest.write_text(additions_manifest().to_yaml())
            dataset = write_arithmetic_jsonl(folder / ADDITIONS_DATASET, ADDITIONS_TRACES)
            trained = subprocess.run(
                [sys.executable, "-c", _TRAIN, str(manifest), str(dataset), str(folder / "model")],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            assert trained.returncode == 0, trained.stderr[-5000:]
            done.write_text("")
    return folder


def record_run(database_url: str, runs_dir: Path, trained: Path) -> str:
    """A copy of the `trained` run folder (its `manifest.yaml` and model output folder, as a
    run's folder or `trained_additions()` holds them) recorded as a succeeded run of the database at
    `database_url` (migrated first) with its files under `runs_dir`; returns the run id."""
    manifest = RunManifest.from_yaml((trained / "manifest.yaml").read_text())
    model = trained / manifest.output.output_dir
    result: dict[str, Any] = json.loads((model / "result.json").read_text())
    run_id = asyncio.run(_insert_run(database_url, manifest, result))
    # Not the source's evaluations (of another database), nor the marker of a finished training.
    unrecorded = shutil.ignore_patterns("done", "evaluations")
    shutil.copytree(trained, runs_dir / str(run_id), ignore=unrecorded)
    return str(run_id)


async def _insert_run(
    database_url: str, manifest: RunManifest, result: dict[str, Any]
) -> uuid.UUID:
    from tunix_rt.db.engine import create_engine
    from tunix_rt.db.migrate import upgrade
    from tunix_rt.runs import jobs, store

    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        run_id = await store.create_run(
            engine,
            dataset_key=manifest.dataset.key,
            manifest=manifest.model_dump(mode="json"),
            status="running",
        )
        assert await jobs.finish(engine, "run", run_id, "succeeded", result=result)
    finally:
        await engine.dispose()
    return run_id
