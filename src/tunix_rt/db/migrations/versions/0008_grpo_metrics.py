"""Run metrics gain the columns of a GRPO step: KL, reward mean and std (in all and per reward),
completion length, clip fraction and the share of groups whose rewards differ.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from tunix_rt.db.types import JSONDocument

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FLOATS = (
    "kl",
    "reward_mean",
    "reward_std",
    "completion_tokens",
    "clip_fraction",
    "groups_with_spread",
)


def upgrade() -> None:
    with op.batch_alter_table("run_metrics") as batch:
        for name in _FLOATS[:3]:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        batch.add_column(sa.Column("rewards", JSONDocument, nullable=True))
        for name in _FLOATS[3:]:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_metrics") as batch:
        for name in (*_FLOATS[:3], "rewards", *_FLOATS[3:]):
            batch.drop_column(name)
