"""Run requests and records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunix_rt.datasets.schema import KEY_PATTERN
from tunix_rt.runs.manifest import Hyperparameters, RunMode

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


class RunResumed(BaseModel):
    run_id: uuid.UUID
    status: RunStatus = Field(description="`queued` (`running` when resumed in the foreground)")
    from_step: int | None = Field(
        description="The checkpoint it goes on from; null: it saved none and starts over."
    )


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
    """A row of the runs table: the summary, the mode and model, and the last recorded step."""

    mode: RunMode
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


class RewardStats(BaseModel):
    mean: float
    std: float


class MetricPoint(BaseModel):
    """One optimizer step. The GRPO and DPO fields are null for the steps of other modes."""

    step: int
    loss: float
    learning_rate: float
    tokens_per_second: float
    eval_loss: float | None
    elapsed_seconds: float
    kl: float | None = Field(default=None, description="GRPO: mean KL to the reference.")
    reward_mean: float | None = Field(default=None, description="GRPO: weighted total reward.")
    reward_std: float | None = None
    rewards: dict[str, RewardStats] | None = Field(
        default=None, description="GRPO: each reward's unweighted mean and std."
    )
    completion_tokens: float | None = Field(
        default=None, description="GRPO: mean generated tokens per completion."
    )
    clip_fraction: float | None = None
    groups_with_spread: float | None = Field(
        default=None,
        description="GRPO: the share of prompt groups whose rewards are not all equal (a group "
        "whose completions all score the same gives no gradient).",
    )
    reward_chosen: float | None = Field(
        default=None, description="DPO / ORPO: the mean reward of the chosen responses."
    )
    reward_rejected: float | None = Field(
        default=None, description="DPO / ORPO: the mean reward of the rejected responses."
    )
    reward_margin: float | None = Field(
        default=None, description="DPO / ORPO: the mean of chosen minus rejected reward."
    )
    reward_accuracy: float | None = Field(
        default=None,
        description="DPO / ORPO: the share of pairs whose chosen reward is the higher.",
    )


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
    reward: list[tuple[int, float]] = Field(default_factory=list, description="GRPO only.")
    kl: list[tuple[int, float]] = Field(default_factory=list, description="GRPO only.")
    groups_with_spread: list[tuple[int, float]] = Field(
        default_factory=list, description="GRPO only."
    )
    reward_margin: list[tuple[int, float]] = Field(
        default_factory=list, description="DPO / ORPO only: chosen minus rejected reward."
    )
    reward_accuracy: list[tuple[int, float]] = Field(
        default_factory=list, description="DPO / ORPO only."
    )
    last: MetricPoint | None


class Rollout(BaseModel):
    """One sampled completion of a GRPO step, with what each reward gave it."""

    step: int
    group: int = Field(description="The prompt's group within the step's sample.")
    trace_id: str
    prompt: str
    completion: str = Field(description="Ends in <end_of_turn> when generation stopped there.")
    expected: str
    rewards: dict[str, float] = Field(description="Each reward, unweighted.")
    reward: float = Field(description="The weighted total the step trained on.")


class RolloutSample(BaseModel):
    """The rollouts a GRPO run stored at one step, and the steps that stored some."""

    run_id: uuid.UUID
    steps: list[int]
    step: int | None = Field(description="The step shown; null when none stored rollouts.")
    data: list[Rollout]
