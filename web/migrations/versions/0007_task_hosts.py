"""hosts: the host each task of an attempt is solved on (``ssh <host>``), where
the exam gives every task a host of its own

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_tasks") as batch:
        batch.add_column(sa.Column("host", sa.String(32), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("attempt_tasks") as batch:
        batch.drop_column("host")
