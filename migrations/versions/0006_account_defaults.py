"""account_defaults: which linked account a channel's posts go to on a platform with several

Revision ID: 0006_defaults
Revises: 0005_options
Create Date: 2026-12-02 03:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_defaults"
down_revision: str | None = "0005_options"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # social_accounts already allows several accounts per team and platform (its unique key is
    # team, platform, remote account); what was missing is saying which one a channel posts to.
    op.create_table(
        "account_defaults",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("social_accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("team_id", "channel_id", "platform", name="uq_account_defaults_channel_platform"),
    )


def downgrade() -> None:
    op.drop_table("account_defaults")
