"""nothing posted twice: a video queued by a several-videos command holds a key per channel and
platform while it is upcoming, so two racing commands cannot both queue it

Revision ID: 0017_post_once
Revises: 0016_results_digests
Create Date: 2026-12-06 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_post_once"
down_revision: str | None = "0016_results_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Only upcoming posts hold the key: a cancelled or failed one frees it (the video may be wanted
# again), and a published one is found by the check before the insert (it cannot race: it was
# published before either command began). Kept in step with core/db/models.py.
_HOLDING = sa.text("content_key IS NOT NULL AND status IN ('queued', 'running', 'awaiting')")


def upgrade() -> None:
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_key", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_posts_once",
        "scheduled_posts",
        ["team_id", "content_key"],
        unique=True,
        postgresql_where=_HOLDING,
        sqlite_where=_HOLDING,
    )


def downgrade() -> None:
    op.drop_index("uq_posts_once", table_name="scheduled_posts")
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.drop_column("content_key")
