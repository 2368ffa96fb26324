"""post_results: the chat message that shows a post's readings, edited as numbers come in

Revision ID: 0013_result_messages
Revises: 0012_results
Create Date: 2026-12-06 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_result_messages"
down_revision: str | None = "0012_results"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_channel", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("post_results", schema=None) as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("message_channel")
