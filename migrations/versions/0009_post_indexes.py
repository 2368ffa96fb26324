"""indexes that keep the finished history out of the reads (bench/scale.py)

Revision ID: 0009_indexes
Revises: 0008_stopped
Create Date: 2026-12-06 19:55:00

A deployment's scheduled_posts is almost all finished posts. Without these, /status counted and
listed a team's finished posts by scanning all of its history (and YouTube's quota day by scanning
every team's), the Home tab sorted the whole history for its last eight results, and a retention
pass looked up each stored video's posts by scanning the table and read every stored video.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_indexes"
down_revision: str | None = "0008_stopped"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        # /status's last day and latest failures, the Home tab's latest results: newest first.
        batch_op.create_index(
            "ix_posts_team_status_updated", ["team_id", "status", "updated_at"], unique=False
        )
        # YouTube's quota day across teams (core/slots/occupancy.youtube_uploads_today).
        batch_op.create_index("ix_posts_platform_run", ["platform", "run_at"], unique=False)
        # Retention: does any post still need this video?
        batch_op.create_index("ix_posts_media", ["media_id"], unique=False)
    with op.batch_alter_table("media_blobs", schema=None) as batch_op:
        # Retention's pass reads only the videos unused for the retention period.
        batch_op.create_index("ix_media_blobs_referenced", ["referenced_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_media_blobs_referenced")
    with op.batch_alter_table("scheduled_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_media")
        batch_op.drop_index("ix_posts_platform_run")
        batch_op.drop_index("ix_posts_team_status_updated")
