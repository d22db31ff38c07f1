"""Where a run's files live, and safe access to them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from tunix_rt import pathnames
from tunix_rt.errors import NotFoundError
from tunix_rt.runs.schema import ArtifactInfo

if TYPE_CHECKING:
    from tunix_rt.runs.jobs import Job

LOG_FILE = "train.log"
EVALUATIONS_DIR = "evaluations"
EVALUATION_LOG_FILE = "eval.log"
DATASET_FILE = "dataset.jsonl"
EVAL_FILE = "eval.jsonl"
MANIFEST_FILE = "manifest.yaml"
#: In a GRPO run's output folder: a sample of its rollouts, one JSON object per line.
ROLLOUTS_FILE = "rollouts.jsonl"
#: In a run's output folder: Tunix's checkpoints, one folder per step.
CHECKPOINTS_DIR = "checkpoints"
#: Where the checkpoints of each mode are, under CHECKPOINTS_DIR (Tunix's RL trainer keeps the
#: policy's under `actor/`; DPO's trainer is an SFT trainer).
CHECKPOINT_SUBDIRS = {"sft": "", "grpo": "actor", "dpo": "", "orpo": ""}


def run_dir(runs_dir: Path, run_id: uuid.UUID) -> Path:
    """`<runs_dir>/<run id>`: every file of a run lives under it."""
    return runs_dir.resolve() / str(run_id)


def evaluation_dir(runs_dir: Path, run_id: uuid.UUID, evaluation_id: uuid.UUID) -> Path:
    """`<runs_dir>/<run id>/evaluations/<evaluation id>`: an evaluation's files (its log)."""
    return run_dir(runs_dir, run_id) / EVALUATIONS_DIR / str(evaluation_id)


def job_log(runs_dir: Path, job: Job) -> Path:
    """The log file a job's worker writes."""
    if job.kind == "run":
        return run_dir(runs_dir, job.id) / LOG_FILE
    return evaluation_dir(runs_dir, job.run_id, job.id) / EVALUATION_LOG_FILE


def output_dir(runs_dir: Path, run_id: uuid.UUID, manifest_output_dir: str) -> Path:
    """The model output folder: the manifest's relative `output.output_dir` inside the run dir
    (ValueError for one that is not a plain relative path, or leaves it through a symlink)."""
    root = run_dir(runs_dir, run_id)
    path = (root / pathnames.relative(manifest_output_dir, "output.output_dir")).resolve()
    if root not in path.parents:
        raise ValueError(f"output.output_dir {manifest_output_dir!r} leaves the run's folder")
    return path


def mode_checkpoints(output: Path, mode: str) -> Path:
    """Where a run of `mode` keeps its checkpoints in its output folder `output`."""
    return output / CHECKPOINTS_DIR / CHECKPOINT_SUBDIRS[mode]


def latest_step(checkpoints: Path) -> int | None:
    """The step of the latest checkpoint in `checkpoints` (None when it holds none); one that was
    being written when its process died is not a step folder yet."""
    if not checkpoints.is_dir():
        return None
    steps = [int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()]
    return max(steps) if steps else None


def list_artifacts(runs_dir: Path, run_id: uuid.UUID) -> list[ArtifactInfo]:
    root = run_dir(runs_dir, run_id)
    if not root.is_dir():
        return []
    return [
        ArtifactInfo(name=path.relative_to(root).as_posix(), size=path.stat().st_size)
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    ]


def artifact_path(runs_dir: Path, run_id: uuid.UUID, name: str) -> Path:
    """The file `name` (relative to the run's folder), as `list_artifacts` lists it: a regular
    file reached without following a symlink. NotFoundError for anything else: a name that is
    not a plain relative path (`pathnames.relative`), or that leaves the folder, or a symlink
    on the way (even one that points back inside)."""
    missing = NotFoundError(f"run {run_id} has no artifact {name!r}")
    try:
        plain = pathnames.relative(name, "artifact name")
    except ValueError:
        raise missing from None
    candidate = run_dir(runs_dir, run_id) / plain
    if candidate.resolve() != candidate or not candidate.is_file():
        raise missing
    return candidate
