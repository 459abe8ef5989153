"""task validations run from the authoring pages ("Validate now"), with their log and result

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_validations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(128), nullable=False),
        sa.Column("task_path", sa.Text(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_task_validations_task_id", "task_validations", ["task_id"])


def downgrade() -> None:
    op.drop_index("ix_task_validations_task_id", "task_validations")
    op.drop_table("task_validations")
