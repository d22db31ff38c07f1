"""The reasoning-trace schema shared by the API, the CLI and the generators."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

MAX_TEXT_CHARS = 50_000
MAX_STEP_CHARS = 20_000
MAX_STEPS = 1_000
MAX_SOURCE_CHARS = 255


class TraceStep(BaseModel):
    """One step of a reasoning trace."""

    model_config = ConfigDict(extra="forbid")

    i: int = Field(ge=0, description="Step index; unique within a trace.")
    type: str = Field(min_length=1, max_length=64, description="Step kind, e.g. `reasoning`.")
    content: str = Field(min_length=1, max_length=MAX_STEP_CHARS)


class ReasoningTrace(BaseModel):
    """A prompt, the ordered reasoning steps, the final answer and free metadata."""

    model_config = ConfigDict(extra="forbid")

    trace_version: str = Field(min_length=1, max_length=64)
    prompt: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    steps: list[TraceStep] = Field(min_length=1, max_length=MAX_STEPS)
    final_answer: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    meta: dict[str, Any] | None = Field(
        default=None, description="Free JSON metadata; `meta.source` is indexed for filtering."
    )

    @field_validator("steps")
    @classmethod
    def _unique_step_indices(cls, steps: list[TraceStep]) -> list[TraceStep]:
        seen: set[int] = set()
        for step in steps:
            if step.i in seen:
                raise ValueError(f"step index {step.i} appears more than once")
            seen.add(step.i)
        return steps

    @field_validator("meta")
    @classmethod
    def _source_is_short_text(cls, meta: dict[str, Any] | None) -> dict[str, Any] | None:
        if meta is not None and "source" in meta:
            source = meta["source"]
            if not isinstance(source, str) or not 1 <= len(source) <= MAX_SOURCE_CHARS:
                raise ValueError(f"meta.source must be a string of 1-{MAX_SOURCE_CHARS} characters")
        return meta

    @property
    def source(self) -> str | None:
        """`meta.source`, the indexed filter column."""
        return None if self.meta is None else self.meta.get("source")


class TraceImport(ReasoningTrace):
    """One line of a JSONL import: a trace, optionally with the id and time of an export."""

    id: uuid.UUID | None = None
    created_at: AwareDatetime | None = None


trace_import_adapter: TypeAdapter[TraceImport] = TypeAdapter(TraceImport)


class TraceSummary(BaseModel):
    """What `POST /api/traces` returns and what list pages hold."""

    id: uuid.UUID
    created_at: datetime
    trace_version: str


class TraceRecord(TraceSummary):
    """A stored trace with its full payload."""

    payload: ReasoningTrace


class ScoredTrace(TraceRecord):
    score: float = Field(description="Baseline score, 0-100.")
