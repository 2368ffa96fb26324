"""The approval request messages postbot sent, so each is redrawn once its posts are decided.

With ``dm`` delivery every approver gets a copy with its own buttons; a decision (any copy's button,
a ✅, /approve, /reject, a cancel) finds every copy here. A row is one message and one post it
shows, at the revision it shows; the message is closed once none of its posts awaits any more.

Closing is claimed like a due post: a conditional UPDATE takes a short lease on the message's rows,
so two processes polling the same chat redraw it once; the rows go when it is redrawn (or found
gone), and a redraw that failed for a while (rate limits, the chat down) is tried again when its
lease runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ApprovalRequest, ScheduledPost, Team
from core.domain import ChatKind, MessageRef, PostStatus, PostView, RequestCopy
from core.store import posts as post_store

_AWAITING = PostStatus.AWAITING.value


class ApprovalRequests:
    """The request messages of one transaction's ``session``, in domain types."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(
        self, team_id: int, shown: Sequence[PostView], messages: Collection[MessageRef]
    ) -> None:
        """``messages`` each show ``shown`` (at their revisions). Sending the same message again (a
        redrawn request) keeps one row per post, at the revision shown last."""
        for message in messages:
            await self.forget_message(team_id, message)
            for post in shown:
                self.session.add(
                    ApprovalRequest(
                        team_id=team_id,
                        channel_id=message.channel_id,
                        message_id=message.message_id,
                        post_id=post.id,
                        revision=post.revision,
                    )
                )
        await self.session.flush()

    async def forget_message(self, team_id: int, message: MessageRef) -> None:
        await self.session.execute(
            delete(ApprovalRequest).where(
                ApprovalRequest.team_id == team_id,
                ApprovalRequest.channel_id == message.channel_id,
                ApprovalRequest.message_id == message.message_id,
            )
        )

    async def claim_closed(
        self, chat: ChatKind, *, now: datetime, lease: timedelta, limit: int
    ) -> list[RequestCopy]:
        """Up to ``limit`` of ``chat``'s messages none of whose posts awaits approval, leased to the
        caller until ``now + lease``: another process skips them meanwhile."""
        free = or_(ApprovalRequest.lease_until.is_(None), ApprovalRequest.lease_until <= now)
        still_waiting = func.sum(case((ScheduledPost.status == _AWAITING, 1), else_=0))
        candidates = (
            select(ApprovalRequest.team_id, ApprovalRequest.channel_id, ApprovalRequest.message_id)
            .join(ScheduledPost, ScheduledPost.id == ApprovalRequest.post_id)
            .join(Team, Team.id == ApprovalRequest.team_id)
            .where(Team.chat == chat.value, free)
            .group_by(ApprovalRequest.team_id, ApprovalRequest.channel_id, ApprovalRequest.message_id)
            .having(still_waiting == 0)
            .order_by(func.min(ApprovalRequest.id))
            .limit(limit)
        )
        found: list[RequestCopy] = []
        for team_id, channel_id, message_id in (await self.session.execute(candidates)).all():
            same = and_(
                ApprovalRequest.team_id == team_id,
                ApprovalRequest.channel_id == channel_id,
                ApprovalRequest.message_id == message_id,
            )
            # Taken only if no one took it since the read: the lease is the fence between processes.
            taken = await self.session.execute(
                update(ApprovalRequest)
                .where(same, free)
                .values(lease_until=now + lease)
                .returning(ApprovalRequest.post_id)
                .execution_options(synchronize_session=False)
            )
            post_ids = sorted(set(taken.scalars().all()))
            if not post_ids:
                continue
            views = tuple([await post_store.get_any(self.session, pid) for pid in post_ids])
            if any(v.status is PostStatus.AWAITING for v in views):
                # Back to awaiting between the read and the lease (an approved post changed by its
                # author): still open, left for the next round.
                await self.session.execute(
                    update(ApprovalRequest)
                    .where(same)
                    .values(lease_until=None)
                    .execution_options(synchronize_session=False)
                )
                continue
            found.append(
                RequestCopy(views[0].chat, views[0].team_id, MessageRef(channel_id, message_id), views)
            )
        return found

    async def forget(self, copies: Collection[RequestCopy]) -> None:
        """Drop redrawn (or gone) messages."""
        for copy in copies:
            team_ids = select(Team.id).where(Team.chat == copy.chat.value, Team.external_id == copy.team_id)
            await self.session.execute(
                delete(ApprovalRequest).where(
                    ApprovalRequest.team_id.in_(team_ids),
                    ApprovalRequest.channel_id == copy.message.channel_id,
                    ApprovalRequest.message_id == copy.message.message_id,
                )
            )
