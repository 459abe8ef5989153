"""clusters: an exam's tasks spread over several clusters of one attempt, each
task on its own host (``clusters: N`` with ``hosts: true``)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("clusters", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("more_clusters_json", sa.Text(), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("attempt_tasks") as batch:
        batch.add_column(sa.Column("cluster", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.add_column(sa.Column("more_clusters_json", sa.Text(), nullable=False,
                                   server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("pool_sandboxes") as batch:
        batch.drop_column("more_clusters_json")
    with op.batch_alter_table("attempt_tasks") as batch:
        batch.drop_column("cluster")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("more_clusters_json")
        batch.drop_column("clusters")
