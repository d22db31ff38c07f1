"""Traces gain `rank_key`, the id-derived integer that seeded random orders hash in plain SQL.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# rank_key = the first 60 bits of md5('<dashed id>'); see tunix_rt.db.functions.
_BACKFILL = {
    "sqlite": "UPDATE traces SET rank_key = tunix_rt_rank_key(id)",
    "postgresql": (
        "UPDATE traces SET rank_key = ('x' || substr(md5(id::text), 1, 15))::bit(60)::bigint"
    ),
}


def upgrade() -> None:
    # Plain ADD COLUMN, as in 0002 (no SQLite table rebuild). Every insert sets the column.
    op.add_column(
        "traces", sa.Column("rank_key", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.execute(_BACKFILL[op.get_bind().dialect.name])
    op.create_index("ix_traces_rank_key", "traces", ["rank_key"])


def downgrade() -> None:
    op.drop_index("ix_traces_rank_key", table_name="traces")
    op.drop_column("traces", "rank_key")
