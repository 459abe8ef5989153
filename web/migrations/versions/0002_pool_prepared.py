"""warm pool entries are prepared for one exam: its paper's setup already run

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.add_column(sa.Column("exam_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("seed", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("paper_json", sa.Text(), nullable=False, server_default="[]"))
        batch.create_index("ix_pool_sandboxes_exam_id", ["exam_id"])


def downgrade() -> None:
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.drop_index("ix_pool_sandboxes_exam_id")
        batch.drop_column("paper_json")
        batch.drop_column("seed")
        batch.drop_column("exam_id")
