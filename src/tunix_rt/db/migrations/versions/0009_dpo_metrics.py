"""Run metrics gain the columns of a DPO / ORPO step: the chosen and rejected rewards, their
margin and the share of pairs whose chosen reward is the higher.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FLOATS = ("reward_chosen", "reward_rejected", "reward_margin", "reward_accuracy")


def upgrade() -> None:
    with op.batch_alter_table("run_metrics") as batch:
        for name in _FLOATS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_metrics") as batch:
        for name in _FLOATS:
            batch.drop_column(name)
