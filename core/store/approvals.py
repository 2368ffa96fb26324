"""Approval before publishing: each channel's rule, and the decisions on awaiting posts.

A decision is one conditional UPDATE on the post's status (``awaiting`` → ``queued`` or
``rejected``), the same fencing the scheduler's claims use: two approvers clicking at once, a double
click or a click replayed after a restart all race for the same row, and only the statement that
still finds it awaiting changes it. Which posts a call decided is what its RETURNING says, never what
was read before it.

A request shows the post at one revision (``scheduled_posts.revision``, bumped by every move and
every return to awaiting) and its buttons carry it: the decision compares it in the same UPDATE, on
the row itself, so a press on a request older than the post changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import and_, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import ApprovalRule as RuleRow
from core.db.models import ScheduledPost
from core.domain import ApprovalDelivery, ApprovalRule, Approver, MessageRef, PostStatus

AWAITING = PostStatus.AWAITING.value


def _rule(row: RuleRow) -> ApprovalRule:
    return ApprovalRule(
        channel_id=row.channel_id,
        approvers=tuple(Approver(a["kind"], a["id"]) for a in row.approvers or []),
        delivery=ApprovalDelivery(row.delivery),
        set_by=row.set_by,
        set_at=row.set_at,
    )


async def rule(session: AsyncSession, team_id: int, channel_id: str | None) -> ApprovalRule | None:
    """The channel's rule; None when approval is off there (or there is no channel: the console
    without one, a DM)."""
    if channel_id is None:
        return None
    row = await session.scalar(
        select(RuleRow).where(RuleRow.team_id == team_id, RuleRow.channel_id == channel_id)
    )
    return _rule(row) if row is not None else None


async def rules(session: AsyncSession, team_id: int, channels: Collection[str]) -> dict[str, ApprovalRule]:
    if not channels:
        return {}
    rows = await session.scalars(
        select(RuleRow).where(RuleRow.team_id == team_id, RuleRow.channel_id.in_(sorted(channels)))
    )
    return {row.channel_id: _rule(row) for row in rows}


async def set_rule(
    session: AsyncSession,
    team_id: int,
    channel_id: str,
    approvers: Sequence[Approver],
    delivery: ApprovalDelivery,
    *,
    by: str,
    at: datetime,
) -> ApprovalRule:
    row = await session.scalar(
        select(RuleRow).where(RuleRow.team_id == team_id, RuleRow.channel_id == channel_id)
    )
    if row is None:
        row = RuleRow(team_id=team_id, channel_id=channel_id)
        session.add(row)
    row.approvers = [{"kind": a.kind, "id": a.id} for a in approvers]
    row.delivery = delivery.value
    row.set_by = by
    row.set_at = at
    await session.flush()
    return _rule(row)


async def clear_rule(session: AsyncSession, team_id: int, channel_id: str) -> bool:
    result = await session.execute(
        delete(RuleRow).where(RuleRow.team_id == team_id, RuleRow.channel_id == channel_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _seen(post_ids: Collection[int], seen: Mapping[int, int] | None) -> list[ColumnElement[bool]]:
    """Each post still at the revision the approver was shown (none given: any revision, for the
    commands that name posts by id). Per row, so PostgreSQL rechecks it on the row a concurrent
    move committed."""
    if seen is None:
        return []
    # Equivalent mutant: the default -1 as None (``revision = NULL`` matches no row), left out (the
    # same) or -2: a revision starts at 0 and only grows, so no row is at any of them.
    return [or_(*(and_(ScheduledPost.id == i, ScheduledPost.revision == seen.get(i, -1)) for i in post_ids))]


async def approve(
    session: AsyncSession,
    team_id: int,
    post_ids: Collection[int],
    *,
    by: str,
    at: datetime,
    run_at: datetime | None = None,
    seen: Mapping[int, int] | None = None,
) -> list[int]:
    """Approve those of ``post_ids`` still awaiting; the ids this call approved.

    Without ``run_at`` a post whose time has passed (by ``at``) stays awaiting: the approver is asked
    to publish it now or pick a new time, which comes back here as ``run_at``. A /post's
    (``on_approval``) goes out at once instead."""
    if not post_ids:
        return []
    values: dict[str, object] = {
        "status": PostStatus.QUEUED.value,
        "approved_by": by,
        "approved_at": at,
        "rejected_by": None,
        "review_note": None,
        # An approval after the author was told "not approved in time": the outcome is news again.
        "notified_at": None,
    }
    conditions = [
        ScheduledPost.team_id == team_id,
        ScheduledPost.id.in_(sorted(post_ids)),
        ScheduledPost.status == AWAITING,
        *_seen(post_ids, seen),
    ]
    if run_at is None:
        conditions.append(or_(ScheduledPost.run_at > at, ScheduledPost.on_approval))
        now_or_then = case((ScheduledPost.on_approval, at), else_=ScheduledPost.run_at)
        values.update(run_at=now_or_then, due_at=now_or_then)
    else:
        values.update(run_at=run_at, due_at=run_at)
    # Equivalent mutant (here and in each UPDATE below): synchronize_session=None, which SQLAlchemy
    # handles as False (it names none of its strategies: the session's objects are left alone).
    result = await session.execute(
        update(ScheduledPost)
        .where(*conditions)
        .values(**values)
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all())


async def reject(
    session: AsyncSession,
    team_id: int,
    post_ids: Collection[int],
    *,
    by: str,
    reason: str | None,
    seen: Mapping[int, int] | None = None,
) -> list[int]:
    """Reject those of ``post_ids`` still awaiting; the ids this call rejected. The author is told by
    the scheduler's pass (:func:`claim_news`), which finds them not yet notified."""
    if not post_ids:
        return []
    result = await session.execute(
        update(ScheduledPost)
        .where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.id.in_(sorted(post_ids)),
            ScheduledPost.status == AWAITING,
            *_seen(post_ids, seen),
        )
        .values(status=PostStatus.REJECTED.value, rejected_by=by, review_note=reason, notified_at=None)
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all())


async def unapprove(session: AsyncSession, post_id: int) -> bool:
    """An approved post changed by someone who approves nothing: it waits for approval again."""
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id == post_id, ScheduledPost.status == PostStatus.QUEUED.value)
        .values(
            status=AWAITING,
            approved_by=None,
            approved_at=None,
            notified_at=None,
            revision=ScheduledPost.revision + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def posts_answered_by(session: AsyncSession, team_id: int, reply: MessageRef) -> list[int]:
    """The posts whose scheduling answer is ``reply`` (a ✅ on it approves them)."""
    rows = await session.scalars(
        select(ScheduledPost.id).where(
            ScheduledPost.team_id == team_id,
            ScheduledPost.reply_channel == reply.channel_id,
            ScheduledPost.reply_message == reply.message_id,
        )
    )
    return sorted(rows.all())


def news(now: datetime) -> ColumnElement[bool]:
    """Review outcomes the author has not been told: a rejection, or a post still awaiting at its
    time. ``notified_at`` is the same mark a published post's news uses."""
    return and_(
        ScheduledPost.notified_at.is_(None),
        or_(
            ScheduledPost.status == PostStatus.REJECTED.value,
            # A /post awaiting approval has no time to miss: it goes out whenever it is approved.
            and_(ScheduledPost.status == AWAITING, ScheduledPost.due_at <= now, ~ScheduledPost.on_approval),
        ),
    )


async def claim_news(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[int]:
    """Mark up to ``limit`` untold review outcomes as told and return them: the mark is taken before
    telling (a conditional UPDATE), so two workers never tell the same author twice; a telling that
    fails gives it back (:func:`release_news`)."""
    candidates = select(ScheduledPost.id).where(news(now)).order_by(ScheduledPost.id).limit(limit)
    ids = list((await session.scalars(candidates)).all())
    if not ids:
        return []
    result = await session.execute(
        update(ScheduledPost)
        .where(ScheduledPost.id.in_(ids), news(now))
        .values(notified_at=now)
        .returning(ScheduledPost.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars().all())


async def release_news(session: AsyncSession, post_ids: Collection[int], *, at: datetime) -> None:
    if post_ids:
        await session.execute(
            update(ScheduledPost)
            .where(ScheduledPost.id.in_(sorted(post_ids)), ScheduledPost.notified_at == at)
            .values(notified_at=None)
            .execution_options(synchronize_session=False)
        )
