"""a digest's last failure and whether its admins were told: /digest shows it, a breakage is told once

Revision ID: 0020_digest_failure
Revises: 0019_approval_requests
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_digest_failure"
down_revision: str | None = "0019_approval_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results_digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("told_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results_digests", schema=None) as batch_op:
        batch_op.drop_column("told_at")
        batch_op.drop_column("failure")
        batch_op.drop_column("failed_at")
