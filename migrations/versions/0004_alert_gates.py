"""alert_gates: one alert per platform outage for the whole fleet, not one per worker

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_gates",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("alerting", sa.Boolean(), nullable=False),
        sa.Column("last_alert", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("alert_gates")
