"""approval before publishing: who approved or rejected a post, and each channel's rule

Revision ID: 0014_approval
Revises: 0013_result_messages
Create Date: 2026-12-06 21:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_approval"
down_revision: str | None = "0013_result_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rejected_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("on_approval", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "approval_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("delivery", sa.String(length=8), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("team_id", "channel_id", name="uq_approval_rules_channel"),
    )


def downgrade() -> None:
    op.drop_table("approval_rules")
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.drop_column("on_approval")
        batch_op.drop_column("review_note")
        batch_op.drop_column("rejected_by")
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
