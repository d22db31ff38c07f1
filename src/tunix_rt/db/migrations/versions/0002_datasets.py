"""Datasets and their items; traces gain final_answer and char_count columns.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from tunix_rt.db.models import SeqType
from tunix_rt.db.types import JSONDocument, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Backfill of the new trace columns from the stored payload, per dialect.
_BACKFILL = {
    "sqlite": """
        UPDATE traces SET
          final_answer = json_extract(payload, '$.final_answer'),
          char_count = length(prompt) + length(json_extract(payload, '$.final_answer')) + (
            SELECT coalesce(sum(length(json_extract(value, '$.content'))), 0)
            FROM json_each(payload, '$.steps'))
    """,
    "postgresql": """
        UPDATE traces SET
          final_answer = payload->>'final_answer',
          char_count = length(prompt) + length(payload->>'final_answer') + (
            SELECT coalesce(sum(length(step->>'content')), 0)
            FROM jsonb_array_elements(payload->'steps') AS step)
    """,
}


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild: on SQLite a rebuild would cascade-delete scores).
    # The server defaults stay; every insert sets both columns.
    op.add_column("traces", sa.Column("final_answer", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "traces", sa.Column("char_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(_BACKFILL[op.get_bind().dialect.name])

    op.create_table(
        "datasets",
        sa.Column("key", sa.String(257), primary_key=True),
        sa.Column("build_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("trace_count", sa.Integer(), nullable=False),
        sa.Column("export_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", JSONDocument, nullable=False),
        sa.UniqueConstraint("build_id", name="uq_datasets_build_id"),
    )
    op.create_table(
        "dataset_items",
        sa.Column(
            "dataset_key",
            sa.String(257),
            sa.ForeignKey("datasets.key", ondelete="CASCADE", name="fk_dataset_items_dataset_key"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column(
            "trace_seq",
            SeqType,
            sa.ForeignKey("traces.seq", ondelete="RESTRICT", name="fk_dataset_items_trace_seq"),
            nullable=False,
        ),
        sa.Column("split", sa.String(32), nullable=True),
    )
    op.create_index("ix_dataset_items_trace_seq", "dataset_items", ["trace_seq"])
    op.create_index(
        "ix_dataset_items_key_split_position", "dataset_items", ["dataset_key", "split", "position"]
    )


def downgrade() -> None:
    op.drop_table("dataset_items")
    op.drop_table("datasets")
    op.drop_column("traces", "char_count")
    op.drop_column("traces", "final_answer")
