"""Traces and their scores.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from tunix_rt.db.models import SeqType
from tunix_rt.db.types import JSONDocument, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traces",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("trace_version", sa.String(64), nullable=False),
        sa.Column("source", sa.String(255), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("step_count", sa.Integer(), nullable=False),
        sa.Column("payload", JSONDocument, nullable=False),
        sa.UniqueConstraint("id", name="uq_traces_id"),
    )
    op.create_index("ix_traces_created_at_seq", "traces", ["created_at", "seq"])
    op.create_index("ix_traces_source_created_at_seq", "traces", ["source", "created_at", "seq"])
    op.create_table(
        "trace_scores",
        sa.Column(
            "trace_id",
            sa.Uuid(),
            sa.ForeignKey("traces.id", ondelete="CASCADE", name="fk_trace_scores_trace_id"),
            primary_key=True,
        ),
        sa.Column("criteria", sa.String(64), primary_key=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("details", JSONDocument, nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_trace_scores_criteria_score", "trace_scores", ["criteria", "score"])


def downgrade() -> None:
    op.drop_table("trace_scores")
    op.drop_table("traces")
