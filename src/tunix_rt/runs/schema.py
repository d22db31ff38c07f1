"""Run requests and records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunix_rt.datasets.schema import KEY_PATTERN
from tunix_rt.runs.manifest import Hyperparameters

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class RunRequest(Hyperparameters):
    """`POST /api/tunix/run`: a manifest (YAML text), or the original fields that make one."""

    model_config = ConfigDict(extra="forbid")

    manifest_yaml: str | None = Field(default=None, max_length=100_000)
    dataset_key: str | None = Field(default=None, pattern=KEY_PATTERN)
    model_id: str | None = Field(default=None, min_length=1, max_length=255)
    output_dir: str | None = Field(default=None, max_length=255)
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> RunRequest:
        if self.manifest_yaml is None and (self.dataset_key is None or self.model_id is None):
            raise ValueError("give manifest_yaml, or dataset_key and model_id")
        if self.manifest_yaml is not None and self.dataset_key is not None:
            raise ValueError("give manifest_yaml or dataset_key, not both")
        return self


class RunAccepted(BaseModel):
    run_id: uuid.UUID | None = Field(description="null for a dry run")
    status: str = Field(description="`queued`, or `validated` for a dry run")
    dataset_key: str
    output_dir: str = Field(description="The run's folder, under the runs directory.")
    manifest_yaml: str = Field(description="The manifest as the run will read it.")
    message: str


class RunSummary(BaseModel):
    id: uuid.UUID
    status: RunStatus
    dataset_key: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunOverview(RunSummary):
    """A row of the runs table: the summary, the model, and the last recorded step."""

    model_id: str | None
    last_step: int | None
    last_loss: float | None


class RunRecord(RunSummary):
    manifest: dict[str, Any]
    host: str | None
    pid: int | None
    cancel_requested: bool
    error: str | None
    result: dict[str, Any] | None


class RunStatusView(BaseModel):
    id: uuid.UUID
    status: RunStatus
    error: str | None
    last_step: int | None
    last_loss: float | None


class MetricPoint(BaseModel):
    step: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    eval_loss: float | None
    elapsed_seconds: float


class ArtifactInfo(BaseModel):
    name: str = Field(description="Path relative to the run's folder.")
    size: int


class RunCurves(BaseModel):
    """A run's metrics as (step, value) series for charts, at most `max_points` steps each
    (every n-th step and the last), and its last recorded step."""

    loss: list[tuple[int, float]]
    eval_loss: list[tuple[int, float]]
    learning_rate: list[tuple[int, float]]
    tokens_per_second: list[tuple[int, float]]
    last: MetricPoint | None
