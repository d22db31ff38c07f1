"""Dataset items gain `eval_idx`: the evaluation item a trace of a dataset built from an
evaluation (`pairs_from_evaluation`) was scored as, so its `preference` export finds the model's
completion by primary key.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_items", sa.Column("eval_idx", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset_items") as batch:
        batch.drop_column("eval_idx")
