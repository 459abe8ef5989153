"""hardening: a session version per user (logout and a password change end every
session), a reason an attempt is held for an instructor's review, and at most one
active attempt per candidate, enforced by the database

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# web.models.BLOCKING_STATES, spelled out: a migration must not change when the code does
BLOCKING = "('provisioning', 'setting_up', 'running', 'submitted', 'grading', 'error')"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("review", sa.Text(), nullable=False, server_default=""))
    op.create_index("uq_attempts_one_active_per_user", "attempts", ["user_id"], unique=True,
                    sqlite_where=sa.text(f"state IN {BLOCKING}"),
                    postgresql_where=sa.text(f"state IN {BLOCKING}"))


def downgrade() -> None:
    op.drop_index("uq_attempts_one_active_per_user", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("review")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
