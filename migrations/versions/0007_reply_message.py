"""scheduled_posts.reply_channel/reply_message: the chat message that answered the command

Live upload progress is shown under it (a thread reply in Slack, a reply in Discord).

Revision ID: 0007_reply
Revises: 0006_defaults
Create Date: 2026-12-02 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_reply"
down_revision: str | None = "0006_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_channel", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reply_message", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.drop_column("reply_message")
        batch_op.drop_column("reply_channel")
