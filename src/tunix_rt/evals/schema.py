"""Evaluation requests, records, scorecards, items, leaderboard rows and comparisons."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunix_rt.datasets.schema import KEY_PATTERN, NAME_PATTERN

EvaluationStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
Subject = Literal["trained", "base"]
TargetKind = Literal["evalset", "dataset"]
SortKey = Literal["accuracy", "delta", "date"]
#: How an item list is ordered: by index, or the wrong answers first (each part by index).
ItemOrder = Literal["index", "wrong_first"]
SPLIT_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
META_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

DEFAULT_MAX_NEW_TOKENS = 256
DEFAULT_BATCH_SIZE = 32


class EvaluationOptions(BaseModel):
    """What to evaluate a run on, and how to generate: the body of
    `POST /api/tunix/runs/{id}/evaluate`, the options of `tunix-rt eval`, and a run manifest's
    `evaluation` section."""

    model_config = ConfigDict(extra="forbid")

    evalset: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="A built-in eval set, e.g. arithmetic-v1."
    )
    dataset_key: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="A dataset whose traces carry meta.expected_answer (instead of evalset).",
    )
    split: str | None = Field(
        default=None, pattern=SPLIT_PATTERN, description="Only this split of the dataset."
    )
    base: bool = Field(
        default=False,
        description="Also evaluate the run's starting point (untrained init or base checkpoint).",
    )
    limit: int | None = Field(default=None, ge=1, le=1_000_000, description="The first N items.")
    max_new_tokens: int = Field(default=DEFAULT_MAX_NEW_TOKENS, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0, le=5, description="0 = greedy.")
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=1, le=1_000_000)
    num_samples: int = Field(
        default=1, ge=1, le=64, description="Samples per item (n > 1 needs temperature > 0)."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Sampling seed.")
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1, le=1024)
    group_by: list[str] | None = Field(
        default=None,
        max_length=4,
        description="Meta keys for the breakdown; default: the eval set's own (none for a "
        "dataset).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> EvaluationOptions:
        if (self.evalset is None) == (self.dataset_key is None):
            raise ValueError("give evalset or dataset_key (one of them)")
        if self.split is not None and self.dataset_key is None:
            raise ValueError("split needs dataset_key")
        if self.num_samples > 1 and self.temperature == 0:
            raise ValueError("num_samples > 1 needs temperature > 0 (greedy samples are equal)")
        if self.temperature == 0 and (self.top_p is not None or self.top_k is not None):
            raise ValueError("top_p and top_k need temperature > 0")
        for key in self.group_by or []:
            if not re.match(META_KEY_PATTERN, key):
                raise ValueError(f"group_by key {key!r}: use letters, digits, '_' or '-'")
        return self


class EvaluationTarget(BaseModel):
    """What an evaluation is pinned to: an eval set by name and sha256, or a dataset (split)
    by key and export sha256."""

    kind: TargetKind
    name: str = Field(description="The eval set's name, or the dataset key.")
    split: str | None = None
    sha256: str = Field(description="The eval set's pinned digest, or the dataset's export sha256.")
    items: int = Field(description="Items evaluated (after `limit`).")

    @property
    def label(self) -> str:
        return self.name if self.split is None else f"{self.name}:{self.split}"


class GroupScore(BaseModel):
    values: list[Any] = Field(description="The group's values of the scorecard's group keys.")
    samples: int
    correct: int
    accuracy: float
    accuracy_low: float
    accuracy_high: float
    format_rate: float


class Scorecard(BaseModel):
    """Aggregates of one model over the items (every sample counts)."""

    items: int
    samples_per_item: int
    correct: int
    accuracy: float
    accuracy_low: float = Field(description="95% Wilson interval, lower end.")
    accuracy_high: float = Field(description="95% Wilson interval, upper end.")
    format_rate: float
    mean_output_tokens: float
    tokens_per_second: float = Field(description="Generated tokens per second of generation.")
    generation_seconds: float
    wall_seconds: float = Field(description="Model loading, generation and scoring.")
    majority_accuracy: float | None = Field(description="n > 1: majority vote per item.")
    pass_at_n: float | None = Field(description="n > 1: share of items with a correct sample.")
    group_keys: list[str]
    groups: list[GroupScore]


class BreakdownRow(BaseModel):
    """One group of a scorecard's breakdown beside the base's score of the same group."""

    label: str = Field(description="The group's values, joined with ' · ' (an en dash for none).")
    trained: GroupScore
    base_accuracy: float | None
    delta_accuracy: float | None = Field(description="trained - base, when the base has it.")


class GroupDelta(BaseModel):
    values: list[Any]
    accuracy: float


class ScorecardDelta(BaseModel):
    """trained - base."""

    accuracy: float
    format_rate: float
    mean_output_tokens: float
    groups: list[GroupDelta]


class EvaluationAccepted(BaseModel):
    evaluation_id: uuid.UUID
    status: EvaluationStatus
    run_id: uuid.UUID
    target: EvaluationTarget
    message: str


class EvaluationSummary(BaseModel):
    """A leaderboard row."""

    id: uuid.UUID
    run_id: uuid.UUID
    status: EvaluationStatus
    created_at: datetime
    finished_at: datetime | None
    model_id: str
    target: str = Field(description="Eval set name, or dataset key (`key:split`).")
    target_sha256: str
    items: int
    base: bool
    accuracy: float | None
    accuracy_low: float | None = Field(default=None, description="95% Wilson interval, lower end.")
    accuracy_high: float | None = Field(default=None, description="95% Wilson interval, upper end.")
    base_accuracy: float | None
    delta_accuracy: float | None
    format_rate: float | None


class LeaderboardChoices(BaseModel):
    """What the leaderboard can be filtered by: the targets and models evaluated so far."""

    evalsets: list[str]
    dataset_keys: list[str]
    model_ids: list[str]


class EvaluationRecord(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID
    status: EvaluationStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    model_id: str
    options: EvaluationOptions
    target: EvaluationTarget
    host: str | None
    pid: int | None
    cancel_requested: bool
    error: str | None
    items_done: int = Field(description="Items of the trained model scored so far.")
    trained: Scorecard | None
    base: Scorecard | None
    delta: ScorecardDelta | None
    traces_stored: int | None = Field(description="Traces made from its outputs, once stored.")


class EvaluationItem(BaseModel):
    index: int
    subject: Subject
    prompt: str
    expected: str
    completion: str
    answer: str | None = Field(description="The extracted final answer.")
    correct: bool
    format_ok: bool
    output_tokens: int
    samples: list[dict[str, Any]] | None = Field(description="n > 1: every sample, in order.")
    meta: dict[str, Any]


class ItemPage(BaseModel):
    data: list[EvaluationItem]
    next_cursor: str | None


class EvaluationPage(BaseModel):
    data: list[EvaluationSummary]
    next_cursor: str | None


CompareOutcome = Literal["a_only", "b_only", "both", "neither"]


class ComparedItem(BaseModel):
    index: int
    outcome: CompareOutcome
    prompt: str
    expected: str
    a_answer: str | None
    b_answer: str | None
    a_completion: str
    b_completion: str


class Comparison(BaseModel):
    a: uuid.UUID
    b: uuid.UUID
    target: str
    counts: dict[CompareOutcome, int]
    a_accuracy: float
    b_accuracy: float
    data: list[ComparedItem] = Field(description="Disagreements first, then by index.")
    next_cursor: str | None


class TracesStored(BaseModel):
    evaluation_id: uuid.UUID
    created_count: int
    skipped: int = Field(description="Completions with no parseable steps or answer.")
    trace_ids: list[uuid.UUID]
