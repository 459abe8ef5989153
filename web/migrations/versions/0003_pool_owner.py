"""the worker preparing a warm sandbox, so a restart can drop what it left half-made

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.add_column(sa.Column("owner", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.drop_column("owner")
