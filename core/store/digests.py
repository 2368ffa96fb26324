"""Weekly results digests in the database: each channel's setting (``results_digests``) and one row
per send (``digest_sends``).

The send row is the once-only gate, like the alert gates (core/store/alerts.py): its unique (team,
channel, period) key lets every scheduler process try to claim a period's digest at once, and only
the insert that lands sends it. A claim holds for a lease; a worker that vanished mid-send leaves a
claim another takes over when the lease runs out, and a sent row is never claimed again, so a
restart neither loses the digest nor sends it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models import DigestSend, ResultsDigest, Team
from core.db.types import as_utc
from core.domain import ChatKind, DigestView, ResultsReport
from core.results_report import build_report
from core.store.posts import Viewer

CLAIMED, SENT, FAILED, RETRY = "claimed", "sent", "failed", "retry"


@dataclass(frozen=True)
class DigestSetting:
    """A channel's digest with what the job needs to send it: the team's chat, ids and zone."""

    team_id: int
    chat: ChatKind
    team_external_id: str
    channel_id: str
    tz: str
    weekday: int
    minute: int
    since: datetime
    # The admin who set it (the chat's user id): the one told when its channel becomes unreachable.
    set_by: str


@dataclass(frozen=True)
class DigestClaim:
    id: int
    attempts: int


async def set_digest(
    session: AsyncSession,
    team_id: int,
    channel_id: str,
    *,
    weekday: int,
    minute: int,
    by: str,
    now: datetime,
) -> None:
    row = (
        await session.execute(
            select(ResultsDigest).where(
                ResultsDigest.team_id == team_id, ResultsDigest.channel_id == channel_id
            )
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(
            ResultsDigest(
                team_id=team_id, channel_id=channel_id, weekday=weekday, minute=minute, set_by=by, since=now
            )
        )
        return
    row.weekday, row.minute, row.set_by, row.since = weekday, minute, by, now
    # Set again: whatever broke is the admin's to have mended, and a new breakage is told anew.
    row.failed_at, row.failure, row.told_at = None, None, None


async def clear_digest(session: AsyncSession, team_id: int, channel_id: str) -> bool:
    result = await session.execute(
        delete(ResultsDigest).where(ResultsDigest.team_id == team_id, ResultsDigest.channel_id == channel_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def team_digests(session: AsyncSession, team_id: int) -> list[DigestView]:
    rows = await session.execute(
        select(ResultsDigest, Team.timezone)
        .join(Team, Team.id == ResultsDigest.team_id)
        .where(ResultsDigest.team_id == team_id)
        .order_by(ResultsDigest.channel_id)
    )
    return [
        DigestView(
            d.channel_id,
            d.weekday,
            d.minute,
            tz,
            failed_at=as_utc(d.failed_at) if d.failed_at is not None else None,
            failure=d.failure,
        )
        for d, tz in rows.all()
    ]


async def all_digests(session: AsyncSession) -> list[DigestSetting]:
    rows = await session.execute(
        select(ResultsDigest, Team).join(Team, Team.id == ResultsDigest.team_id).order_by(ResultsDigest.id)
    )
    return [
        DigestSetting(
            team_id=d.team_id,
            chat=ChatKind(t.chat),
            team_external_id=t.external_id,
            channel_id=d.channel_id,
            tz=t.timezone,
            weekday=d.weekday,
            minute=d.minute,
            since=as_utc(d.since),
            set_by=d.set_by,
        )
        for d, t in rows.all()
    ]


async def claim(
    session: AsyncSession,
    *,
    team_id: int,
    channel_id: str,
    period: str,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    max_attempts: int,
) -> DigestClaim | None:
    """Claim the period's send for ``worker_id``; None: another has it, or it is settled."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Two workers inserting at once: PostgreSQL makes the second wait for the first's commit and
    # then do nothing; SQLite has one writer. Either way one RETURNING row, one sender.
    inserted = (
        await session.execute(
            insert(DigestSend)
            .values(
                team_id=team_id,
                channel_id=channel_id,
                period=period,
                state=CLAIMED,
                claimed_by=worker_id,
                lease_until=now + lease,
                attempts=1,
            )
            .on_conflict_do_nothing(index_elements=["team_id", "channel_id", "period"])
            .returning(DigestSend.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return DigestClaim(inserted, 1)
    # A claim whose worker vanished (lease over), or a failed send waiting for its next try. The
    # condition is evaluated again on the locked row, so of two takers only one matches.
    taken = (
        await session.execute(
            update(DigestSend)
            .where(
                DigestSend.team_id == team_id,
                DigestSend.channel_id == channel_id,
                DigestSend.period == period,
                DigestSend.state.in_([CLAIMED, RETRY]),
                DigestSend.lease_until < now,
                DigestSend.attempts < max_attempts,
            )
            .values(
                state=CLAIMED,
                claimed_by=worker_id,
                lease_until=now + lease,
                attempts=DigestSend.attempts + 1,
            )
            .returning(DigestSend.id, DigestSend.attempts)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return DigestClaim(taken[0], taken[1]) if taken is not None else None


async def finish(
    session: AsyncSession,
    claim_id: int,
    *,
    worker_id: str,
    state: str,
    now: datetime,
    note: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Settle this worker's claim (sent, failed, or retry at ``retry_at``); False: it lost the claim."""
    values: dict[str, object] = {"state": state, "note": note, "claimed_by": None}
    values["sent_at"] = now if state == SENT else None
    values["lease_until"] = retry_at if state == RETRY else None
    result = await session.execute(
        update(DigestSend)
        .where(DigestSend.id == claim_id, DigestSend.claimed_by == worker_id, DigestSend.state == CLAIMED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _setting_row(team_id: int, channel_id: str) -> Any:
    return update(ResultsDigest).where(
        ResultsDigest.team_id == team_id, ResultsDigest.channel_id == channel_id
    )


async def record_failure(
    session: AsyncSession,
    team_id: int,
    channel_id: str,
    *,
    slot: datetime,
    failure: str,
    tell_at: datetime | None,
) -> bool:
    """Note on the setting that ``slot``'s digest failed for good and why. With ``tell_at``: mark the
    admins told unless they already are; True: this caller tells them. Only the worker holding the
    week's claim gets here, and the condition is evaluated again on the locked row, so a breakage is
    told once however many workers run and however many weeks it lasts."""
    await session.execute(
        _setting_row(team_id, channel_id)
        .values(failed_at=slot, failure=failure)
        .execution_options(synchronize_session=False)
    )
    if tell_at is None:
        return False
    told = await session.execute(
        _setting_row(team_id, channel_id)
        .where(ResultsDigest.told_at.is_(None))
        .values(told_at=tell_at)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(told, "rowcount", 0))


async def clear_failure(session: AsyncSession, team_id: int, channel_id: str) -> None:
    """A digest went out: the channel works, and a later breakage is news again."""
    await session.execute(
        _setting_row(team_id, channel_id)
        .where(
            or_(
                ResultsDigest.failed_at.is_not(None),
                ResultsDigest.failure.is_not(None),
                ResultsDigest.told_at.is_not(None),
            )
        )
        .values(failed_at=None, failure=None, told_at=None)
        .execution_options(synchronize_session=False)
    )


class DigestStore:
    """The one object the digest job talks to."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], worker_id: str) -> None:
        self.sessions = sessions
        self.worker_id = worker_id

    async def settings(self) -> list[DigestSetting]:
        async with self.sessions() as session:
            return await all_digests(session)

    async def report(self, setting: DigestSetting, *, until: datetime, days: int) -> ResultsReport:
        """The numbers of the channel's own posts only: a digest is read by everyone in that channel,
        so a post from a private channel never reaches it."""
        async with self.sessions() as session:
            return await build_report(
                session,
                setting.team_id,
                until=until,
                days=days,
                tz=setting.tz,
                viewer=Viewer(None, frozenset({setting.channel_id})),
            )

    async def claim(
        self, setting: DigestSetting, period: str, *, now: datetime, lease: timedelta, max_attempts: int
    ) -> DigestClaim | None:
        async with self.sessions.begin() as session:
            return await claim(
                session,
                team_id=setting.team_id,
                channel_id=setting.channel_id,
                period=period,
                worker_id=self.worker_id,
                now=now,
                lease=lease,
                max_attempts=max_attempts,
            )

    async def finish(
        self,
        claimed: DigestClaim,
        state: str,
        *,
        now: datetime,
        note: str | None = None,
        retry_at: datetime | None = None,
        setting: DigestSetting | None = None,
    ) -> bool:
        """Settle the claim; a send (with its ``setting``) also clears the setting's last failure."""
        async with self.sessions.begin() as session:
            done = await finish(
                session,
                claimed.id,
                worker_id=self.worker_id,
                state=state,
                now=now,
                note=note,
                retry_at=retry_at,
            )
            if done and state == SENT and setting is not None:
                await clear_failure(session, setting.team_id, setting.channel_id)
            return done

    async def failed(
        self,
        claimed: DigestClaim,
        setting: DigestSetting,
        *,
        now: datetime,
        slot: datetime,
        note: str,
        failure: str,
        unreachable: bool,
    ) -> bool:
        """Settle the claim as failed for good and note why on the setting, in one transaction.
        True: the channel became unreachable and this caller is the one to tell the admins."""
        async with self.sessions.begin() as session:
            if not await finish(
                session, claimed.id, worker_id=self.worker_id, state=FAILED, now=now, note=note
            ):
                # Lost the claim (the lease ran out): its new holder settles and tells.
                return False
            return await record_failure(
                session,
                setting.team_id,
                setting.channel_id,
                slot=slot,
                failure=failure,
                tell_at=now if unreachable else None,
            )

    async def untell(self, setting: DigestSetting) -> None:
        """Nobody could be told: the next week's failure tries again."""
        async with self.sessions.begin() as session:
            await session.execute(
                _setting_row(setting.team_id, setting.channel_id)
                .values(told_at=None)
                .execution_options(synchronize_session=False)
            )
