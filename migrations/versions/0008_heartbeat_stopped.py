"""worker heartbeats say when a worker stopped on purpose

Revision ID: 0008_stopped
Revises: 0007_reply
Create Date: 2026-12-06 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_stopped"
down_revision: str | None = "0007_reply"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: running workers keep beating while the column is added (a new worker
    # and an old one can share the table during an upgrade; the old one never sets it).
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_column("stopped_at")
