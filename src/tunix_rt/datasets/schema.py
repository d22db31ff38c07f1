"""Dataset build requests, filters and manifests."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from tunix_rt.clock import UserTime
from tunix_rt.traces.scoring import Criteria

MANIFEST_SCHEMA_VERSION = "1.0"
#: A dataset name or version: letters, digits and `._-`, not starting with a dot.
NAME_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"
NAME_RULE = "Letters, digits and `._-`, not starting with a dot."
KEY_PATTERN = r"^[A-Za-z0-9._-]{1,257}$"
META_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MetaValue = str | int | float | bool | None
#: How many traces a build takes when the request sets no limit.
DEFAULT_LIMIT = 100


def dataset_key(name: str, version: str) -> str:
    """`{name}-{version}`; both parts are already restricted to letters, digits and `._-`."""
    return f"{name}-{version}"


class MinScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: Criteria
    score: float = Field(ge=0, le=100)


class DatasetFilters(BaseModel):
    """Which traces a dataset may hold. Any other key is `meta.<key> == value` (as before)."""

    model_config = ConfigDict(extra="allow")

    source: str | None = Field(default=None, min_length=1, max_length=255)
    created_after: UserTime | None = Field(default=None, description="Inclusive.")
    created_before: UserTime | None = Field(default=None, description="Exclusive.")
    prompt_contains: str | None = Field(
        default=None, min_length=1, max_length=1000, description="Case-insensitive substring."
    )
    min_score: MinScore | None = Field(
        default=None, description="Only traces whose stored score for `criteria` is >= `score`."
    )
    meta: dict[str, MetaValue] = Field(
        default_factory=dict, description="`meta.<key> == value` for every entry."
    )

    @model_validator(mode="after")
    def _fold_extra_keys_into_meta(self) -> DatasetFilters:
        extra = dict(self.__pydantic_extra__ or {})
        for key, value in extra.items():
            if not isinstance(value, str | int | float | bool | type(None)):
                raise ValueError(f"filter {key!r} must be a string, number, boolean or null")
            self.meta.setdefault(key, value)
        self.__pydantic_extra__ = {}
        for key in self.meta:
            if not META_KEY.match(key):
                raise ValueError(f"meta filter key {key!r}: use letters, digits, '_' or '-'")
        if "source" in self.meta and self.source is None:
            value = self.meta.pop("source")
            if not isinstance(value, str):
                raise ValueError("filter 'source' must be a string")
            self.source = value
        return self


class PairsFromEvaluation(BaseModel):
    """Build the dataset from the traces an evaluation scored, for `preference` pairs."""

    model_config = ConfigDict(extra="forbid")

    evaluation_id: uuid.UUID = Field(
        description="A succeeded evaluation of a dataset (or a split of one)."
    )
    only_wrong: bool = Field(
        default=False,
        description="Only the traces the evaluation got wrong (every pair then rejects the "
        "model's own wrong completion); by default the ones it got right are kept too, paired "
        "with a corrupted copy of themselves.",
    )


class EvaluationPairs(PairsFromEvaluation):
    """`pairs_from_evaluation` as a manifest records it."""

    wrong: int = Field(
        description="Traces of the dataset the evaluation got wrong: their `preference` records "
        "reject the model's completion."
    )


class DatasetBuildRequest(BaseModel):
    """`POST /api/datasets/build`."""

    model_config = ConfigDict(extra="forbid")

    dataset_name: str = Field(pattern=NAME_PATTERN, description=NAME_RULE)
    dataset_version: str = Field(pattern=NAME_PATTERN, description=NAME_RULE)
    filters: DatasetFilters = Field(default_factory=DatasetFilters)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=10_000_000)
    selection_strategy: Literal["latest", "random"] = "latest"
    seed: int | None = Field(default=None, ge=0, le=2**62)
    dedupe: bool = Field(
        default=False,
        description="Drop traces whose prompt and final answer repeat an earlier one.",
    )
    splits: dict[str, float] | None = Field(
        default=None, description='Fractions summing to 1, e.g. {"train": 0.9, "val": 0.1}.'
    )
    session_id: str | None = Field(default=None, max_length=255)
    parent_dataset_id: str | None = Field(default=None, max_length=255)
    training_run_id: str | None = Field(default=None, max_length=255)
    allow_eval_prompts: bool = Field(
        default=False,
        description="Keep traces whose prompt is a built-in eval set item's (left out by "
        "default, so that held-out sets stay held out).",
    )
    pairs_from_evaluation: PairsFromEvaluation | None = Field(
        default=None,
        description="Select only among the traces this evaluation scored (the filters and the "
        "rest still apply); the `preference` export then rejects the model's wrong completion "
        "of each trace it got wrong.",
    )

    @field_validator("splits")
    @classmethod
    def _valid_splits(cls, splits: dict[str, float] | None) -> dict[str, float] | None:
        if splits is None:
            return None
        if not 1 <= len(splits) <= 16:
            raise ValueError("give 1 to 16 splits")
        for name, fraction in splits.items():
            if not SPLIT_NAME.match(name):
                raise ValueError(f"split name {name!r}: use letters, digits, '_' or '-'")
            if not 0 < fraction <= 1:
                raise ValueError(f"split {name!r}: fraction must be in (0, 1]")
        if abs(sum(splits.values()) - 1) > 1e-9:
            raise ValueError("split fractions must sum to 1")
        return splits

    @model_validator(mode="after")
    def _seed_when_needed(self) -> DatasetBuildRequest:
        if self.selection_strategy == "random" and self.seed is None:
            raise ValueError("selection_strategy 'random' needs a seed (for reproducibility)")
        if self.splits is not None and self.seed is None:
            raise ValueError("splits need a seed (for a reproducible partition)")
        return self

    @property
    def key(self) -> str:
        return dataset_key(self.dataset_name, self.dataset_version)


class DatasetStats(BaseModel):
    trace_count: int
    min_steps: int
    avg_steps: float
    max_steps: int
    avg_chars: float
    max_chars: int
    est_tokens_avg: float = Field(description="Estimated tokens of a training example (avg).")
    est_tokens_max: int = Field(description="Estimated tokens of the longest training example.")
    split_counts: dict[str, int] = Field(default_factory=dict)


class DatasetManifest(BaseModel):
    """Everything needed to reproduce a dataset, byte for byte."""

    dataset_key: str
    build_id: uuid.UUID
    dataset_name: str
    dataset_version: str
    dataset_schema_version: str = MANIFEST_SCHEMA_VERSION
    created_at: datetime
    filters: dict[str, Any]
    selection_strategy: str
    seed: int | None
    limit: int
    dedupe: bool
    splits: dict[str, float] | None
    trace_ids: list[uuid.UUID]
    trace_count: int
    stats: DatasetStats
    session_id: str | None
    parent_dataset_id: str | None
    training_run_id: str | None
    export_sha256: str = Field(description="sha256 of the canonical `trace`-format export.")
    allow_eval_prompts: bool = False
    eval_prompts_excluded: int = Field(
        default=0, description="Matching traces left out because their prompt is an eval set's."
    )
    pairs_from_evaluation: EvaluationPairs | None = Field(
        default=None, description="The evaluation the traces were taken from, if any."
    )


class DatasetBuilt(BaseModel):
    """`POST /api/datasets/build` → 201."""

    dataset_key: str
    build_id: uuid.UUID
    trace_count: int
    manifest_path: str
    eval_prompts_excluded: int = Field(
        description="Matching traces left out because their prompt is an eval set's."
    )
    evaluation_wrong: int | None = Field(
        default=None,
        description="With `pairs_from_evaluation`: how many of the traces the evaluation got "
        "wrong (their `preference` records reject the model's completion).",
    )
    matching_count: int = Field(
        exclude=True,
        description="How many traces the build could have taken without its limit (for the "
        "CLI's summary; not part of the API's answer).",
    )


class DatasetSummary(BaseModel):
    dataset_key: str
    build_id: uuid.UUID
    dataset_name: str
    dataset_version: str
    created_at: datetime
    trace_count: int
    export_sha256: str
