"""Evaluations of runs and their per-item outputs.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from tunix_rt.db.types import JSONDocument, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "run_id",
            sa.Uuid(),
            sa.ForeignKey("runs.id", ondelete="CASCADE", name="fk_evaluations_run_id"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model_id", sa.String(255), nullable=False),
        sa.Column("options", JSONDocument, nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target_name", sa.String(257), nullable=False),
        sa.Column("target_split", sa.String(32), nullable=True),
        sa.Column("target_sha256", sa.String(64), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("base", sa.Boolean(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("base_accuracy", sa.Float(), nullable=True),
        sa.Column("delta_accuracy", sa.Float(), nullable=True),
        sa.Column("format_rate", sa.Float(), nullable=True),
        sa.Column("scorecard", JSONDocument, nullable=True),
        sa.Column("traces_stored", sa.Integer(), nullable=True),
    )
    op.create_index("ix_evaluations_status_created_at", "evaluations", ["status", "created_at"])
    op.create_index("ix_evaluations_run_id_created_at", "evaluations", ["run_id", "created_at"])
    op.create_index("ix_evaluations_created_at", "evaluations", ["created_at"])
    op.create_table(
        "evaluation_items",
        sa.Column(
            "evaluation_id",
            sa.Uuid(),
            sa.ForeignKey(
                "evaluations.id", ondelete="CASCADE", name="fk_evaluation_items_evaluation_id"
            ),
            primary_key=True,
        ),
        sa.Column("subject", sa.String(8), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("completion", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("format_ok", sa.Boolean(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("samples", JSONDocument, nullable=True),
        sa.Column("meta", JSONDocument, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluation_items")
    op.drop_table("evaluations")
