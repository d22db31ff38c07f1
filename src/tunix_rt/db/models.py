"""Tables. Schema changes go through the Alembic migrations in `db/migrations`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tunix_rt.db.types import JSONDocument, UTCDateTime

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (fast, clustered).
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Trace(Base):
    """One reasoning trace: the validated payload plus the columns queries filter on."""

    __tablename__ = "traces"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    trace_version: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    final_answer: Mapped[str] = mapped_column(Text, nullable=False)
    step_count: Mapped[int] = mapped_column(Integer, nullable=False)
    char_count: Mapped[int] = mapped_column(
        Integer, nullable=False, doc="Characters of prompt, step contents and final answer."
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    rank_key: Mapped[int] = mapped_column(
        BigInteger,
        nullable=False,
        server_default="0",
        doc="First 60 bits of md5 of the dashed id; seeded random orders hash it (db.functions).",
    )

    __table_args__ = (
        Index("ix_traces_created_at_seq", "created_at", "seq"),
        Index("ix_traces_source_created_at_seq", "source", "created_at", "seq"),
        Index("ix_traces_rank_key", "rank_key"),
    )


class TraceScore(Base):
    """The latest score of a trace under one criteria."""

    __tablename__ = "trace_scores"

    trace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True
    )
    criteria: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_trace_scores_criteria_score", "criteria", "score"),)


class Dataset(Base):
    """An immutable, reproducible selection of traces and its manifest."""

    __tablename__ = "datasets"

    key: Mapped[str] = mapped_column(String(257), primary_key=True)
    build_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    trace_count: Mapped[int] = mapped_column(Integer, nullable=False)
    export_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    manifest: Mapped[dict[str, Any]] = mapped_column(
        JSONDocument, nullable=False, doc="The manifest without its trace ids (they are items)."
    )


class DatasetItem(Base):
    """One trace of a dataset, at its position, in its split."""

    __tablename__ = "dataset_items"

    dataset_key: Mapped[str] = mapped_column(
        String(257), ForeignKey("datasets.key", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    trace_seq: Mapped[int] = mapped_column(
        SeqType, ForeignKey("traces.seq", ondelete="RESTRICT"), nullable=False
    )
    split: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_dataset_items_trace_seq", "trace_seq"),
        Index("ix_dataset_items_key_split_position", "dataset_key", "split", "position"),
    )


class Run(Base):
    """A training run: its manifest, where it runs, and how it ended."""

    __tablename__ = "runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dataset_key: Mapped[str] = mapped_column(String(257), nullable=False)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument, nullable=True)

    __table_args__ = (
        Index("ix_runs_status_created_at", "status", "created_at"),
        Index("ix_runs_dataset_key_created_at", "dataset_key", "created_at"),
    )


class RunMetric(Base):
    """One optimizer step of a run."""

    __tablename__ = "run_metrics"

    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    loss: Mapped[float] = mapped_column(Float, nullable=False)
    learning_rate: Mapped[float] = mapped_column(Float, nullable=False)
    tokens_per_second: Mapped[float] = mapped_column(Float, nullable=False)
    eval_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    elapsed_seconds: Mapped[float] = mapped_column(Float, nullable=False)


class Evaluation(Base):
    """A run's model (and optionally its starting point) scored on a pinned eval target."""

    __tablename__ = "evaluations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_id: Mapped[str] = mapped_column(String(255), nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)
    target_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    target_name: Mapped[str] = mapped_column(String(257), nullable=False)
    target_split: Mapped[str | None] = mapped_column(String(32), nullable=True)
    target_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    item_count: Mapped[int] = mapped_column(Integer, nullable=False)
    base: Mapped[bool] = mapped_column(Boolean, nullable=False)
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    base_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    delta_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    format_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(
        JSONDocument, nullable=True, doc="{trained, base, delta} once it succeeded."
    )
    traces_stored: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_evaluations_status_created_at", "status", "created_at"),
        Index("ix_evaluations_run_id_created_at", "run_id", "created_at"),
        Index("ix_evaluations_created_at", "created_at"),
    )


class EvaluationItem(Base):
    """One item of an evaluation for one subject (`trained` or `base`): its first sample's
    outcome, and every sample when there are several."""

    __tablename__ = "evaluation_items"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(8), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    expected: Mapped[str] = mapped_column(Text, nullable=False)
    completion: Mapped[str] = mapped_column(Text, nullable=False)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    correct: Mapped[bool] = mapped_column(Boolean, nullable=False)
    format_ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    samples: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONDocument, nullable=False)


traces_table: Table = cast(Table, Trace.__table__)
scores_table: Table = cast(Table, TraceScore.__table__)
datasets_table: Table = cast(Table, Dataset.__table__)
dataset_items_table: Table = cast(Table, DatasetItem.__table__)
runs_table: Table = cast(Table, Run.__table__)
run_metrics_table: Table = cast(Table, RunMetric.__table__)
evaluations_table: Table = cast(Table, Evaluation.__table__)
evaluation_items_table: Table = cast(Table, EvaluationItem.__table__)
