"""Tables. Schema changes go through the Alembic migrations in `db/migrations`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    false,
    text,
)

from tunix_rt.db.types import JSONDocument, UTCDateTime

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (fast, clustered).
SeqType = BigInteger().with_variant(Integer(), "sqlite")


metadata = MetaData()
"""Every table; Alembic's migrations create them (`db/migrations`)."""

#: One reasoning trace: the validated payload plus the columns queries filter on.
traces_table = Table(
    "traces",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", Uuid, unique=True, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("trace_version", String(64), nullable=False),
    Column("source", String(255), nullable=True),
    Column("prompt", Text, nullable=False),
    # Migration 0002 added final_answer and char_count with server defaults; every insert sets
    # both.
    Column("final_answer", Text, nullable=False, server_default=text("''")),
    Column("step_count", Integer, nullable=False),
    Column(
        "char_count",
        Integer,
        nullable=False,
        server_default="0",
        doc="Characters of prompt, step contents and final answer.",
    ),
    Column("payload", JSONDocument, nullable=False),
    Column(
        "rank_key",
        BigInteger,
        nullable=False,
        server_default="0",
        doc="First 60 bits of md5 of the dashed id; seeded random orders hash it (db.functions).",
    ),
    Index("ix_traces_created_at_seq", "created_at", "seq"),
    Index("ix_traces_source_created_at_seq", "source", "created_at", "seq"),
    Index("ix_traces_rank_key", "rank_key"),
)

#: The latest score of a trace under one criteria.
scores_table = Table(
    "trace_scores",
    metadata,
    Column("trace_id", Uuid, ForeignKey("traces.id", ondelete="CASCADE"), primary_key=True),
    Column("criteria", String(64), primary_key=True),
    Column("score", Float, nullable=False),
    Column("details", JSONDocument, nullable=False),
    Column("scored_at", UTCDateTime, nullable=False),
    Index("ix_trace_scores_criteria_score", "criteria", "score"),
)

#: An immutable, reproducible selection of traces and its manifest.
datasets_table = Table(
    "datasets",
    metadata,
    Column("key", String(257), primary_key=True),
    Column("build_id", Uuid, unique=True, nullable=False),
    Column("name", String(128), nullable=False),
    Column("version", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("trace_count", Integer, nullable=False),
    Column("export_sha256", String(64), nullable=False),
    Column(
        "manifest",
        JSONDocument,
        nullable=False,
        doc="The manifest without its trace ids (they are items).",
    ),
)

#: One trace of a dataset, at its position, in its split.
dataset_items_table = Table(
    "dataset_items",
    metadata,
    Column(
        "dataset_key", String(257), ForeignKey("datasets.key", ondelete="CASCADE"), primary_key=True
    ),
    Column("position", Integer, primary_key=True),
    Column("trace_seq", SeqType, ForeignKey("traces.seq", ondelete="RESTRICT"), nullable=False),
    Column("split", String(32), nullable=True),
    Column(
        "eval_idx",
        Integer,
        nullable=True,
        doc="The evaluation item this trace was scored as (datasets built from an evaluation).",
    ),
    Index("ix_dataset_items_trace_seq", "trace_seq"),
    Index("ix_dataset_items_key_split_position", "dataset_key", "split", "position"),
)


# The job columns `runs.jobs` queues and claims by, shared by runs and evaluations; each table
# holds its own columns in between, as its migration orders them.
def _job_state() -> list[Column[Any]]:
    """A job's status and when it was queued, started and finished."""
    return [
        Column("status", String(16), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("started_at", UTCDateTime, nullable=True),
        Column("finished_at", UTCDateTime, nullable=True),
    ]


def _job_worker() -> list[Column[Any]]:
    """Where a job runs (host and worker pid), whether a cancel was asked, and its error."""
    return [
        Column("host", String(255), nullable=True),
        Column("pid", Integer, nullable=True),
        Column("cancel_requested", Boolean, nullable=False, default=False, server_default=false()),
        Column("error", Text, nullable=True),
    ]


#: A training run: its manifest, where it runs, and how it ended.
runs_table = Table(
    "runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    *_job_state(),
    Column("dataset_key", String(257), nullable=False),
    Column("manifest", JSONDocument, nullable=False),
    *_job_worker(),
    Column("result", JSONDocument, nullable=True),
    Index("ix_runs_created_at_id", "created_at", "id"),
    Index("ix_runs_status_created_at", "status", "created_at"),
    Index("ix_runs_dataset_key_created_at", "dataset_key", "created_at"),
)

#: One optimizer step of a run.
run_metrics_table = Table(
    "run_metrics",
    metadata,
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("step", Integer, primary_key=True),
    Column("loss", Float, nullable=False),
    Column("learning_rate", Float, nullable=False),
    Column("tokens_per_second", Float, nullable=False),
    Column("eval_loss", Float, nullable=True),
    Column("elapsed_seconds", Float, nullable=False),
    # GRPO steps only (null for SFT): what the step's rollouts scored and how far it moved.
    Column("kl", Float, nullable=True),
    Column("reward_mean", Float, nullable=True),
    Column("reward_std", Float, nullable=True),
    Column("rewards", JSONDocument, nullable=True, doc="{name: {mean, std}}, unweighted."),
    Column("completion_tokens", Float, nullable=True),
    Column("clip_fraction", Float, nullable=True),
    Column("groups_with_spread", Float, nullable=True),
    # DPO / ORPO steps only: the rewards of the step's chosen and rejected responses.
    Column("reward_chosen", Float, nullable=True),
    Column("reward_rejected", Float, nullable=True),
    Column("reward_margin", Float, nullable=True),
    Column("reward_accuracy", Float, nullable=True),
)

#: A run's model (and optionally its starting point) scored on a pinned eval target.
evaluations_table = Table(
    "evaluations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("run_id", Uuid, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    *_job_state(),
    *_job_worker(),
    Column("model_id", String(255), nullable=False),
    Column("options", JSONDocument, nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target_name", String(257), nullable=False),
    Column("target_split", String(32), nullable=True),
    Column("target_sha256", String(64), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("base", Boolean, nullable=False),
    Column("accuracy", Float, nullable=True),
    Column("base_accuracy", Float, nullable=True),
    Column("delta_accuracy", Float, nullable=True),
    Column("format_rate", Float, nullable=True),
    Column(
        "scorecard", JSONDocument, nullable=True, doc="{trained, base, delta} once it succeeded."
    ),
    Column("traces_stored", Integer, nullable=True),
    Index("ix_evaluations_status_created_at", "status", "created_at"),
    Index("ix_evaluations_run_id_created_at", "run_id", "created_at"),
    Index("ix_evaluations_created_at", "created_at"),
)

#: One item of an evaluation for one subject (`trained` or `base`): its first sample's
#: outcome, and every sample when there are several.
evaluation_items_table = Table(
    "evaluation_items",
    metadata,
    Column(
        "evaluation_id", Uuid, ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("subject", String(8), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("prompt", Text, nullable=False),
    Column("expected", Text, nullable=False),
    Column("completion", Text, nullable=False),
    Column("answer", Text, nullable=True),
    Column("correct", Boolean, nullable=False),
    Column("format_ok", Boolean, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("samples", JSONDocument, nullable=True),
    Column("meta", JSONDocument, nullable=False),
)
