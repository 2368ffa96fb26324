"""Approval before publishing: the facade's approval capability.

Per channel, admins turn approval on (``/postbot approval on [approvers] [dm]``). A post queued
there by someone who is not an approver waits (``PostStatus.AWAITING``) and the scheduler never
claims it; an approver approves it (a button, ✅ on the scheduling answer, ``/approve``), rejects it
with a reason, or moves it. Every decision is a conditional UPDATE (core/store/approvals.py), so
however many clicks race, a post is approved once and published once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.domain import (
    ApprovalDelivery,
    ApprovalRule,
    Approver,
    ChatContext,
    ChatKind,
    MessageRef,
    PostStatus,
    PostView,
    RequestCopy,
    ReviewOutcome,
)
from core.errors import PermissionDenied, UserError
from core.service.base import ServiceBase
from core.service.queue import parse_post_id
from core.store import approvals, posts, teams, wakeups
from core.store.approval_requests import ApprovalRequests
from core.timeparse import parse_when

# Console spellings, as every core message has them: Slack and Discord name them under their own
# commands (core.render.namespaced).
_APPROVAL_HELP = "e.g. /approval on (the admins approve), /approval on @ana @video-leads dm, /approval off"
# Slack escapes mentions in a command's text as <@U123|name> and user groups as <!subteam^S123|@name>
# (https://api.slack.com/interactivity/slash-commands#creating_commands, "Escape channels, users, and
# links"); Discord writes <@123> (or <@!123>) and roles <@&123>
# (https://discord.com/developers/docs/reference#message-formatting).
_SLACK_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_SLACK_GROUP = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>")
_DISCORD_USER = re.compile(r"<@!?([0-9]{1,20})>")
_DISCORD_ROLE = re.compile(r"<@&([0-9]{1,20})>")
log = logging.getLogger(__name__)

# Longest reason kept with a rejection (a chat's modal caps it too).
MAX_REASON = 500


def read_approvers(chat: ChatKind, text: str) -> tuple[tuple[Approver, ...], ApprovalDelivery]:
    """The approvers and delivery in ``on``'s arguments; a word that is neither is refused."""
    found: list[Approver] = []
    delivery = ApprovalDelivery.THREAD
    for word in text.split():
        low = word.lower()
        if low in ("dm", "dms", "--dm"):
            delivery = ApprovalDelivery.DM
            continue
        if low in ("thread", "--thread"):
            delivery = ApprovalDelivery.THREAD
            continue
        if low in ("admins", "admin"):
            continue
        approver = _approver(chat, word)
        if approver is None:
            raise UserError(f"'{word[:40]}' is not a person or a group I can ask.", hint=_mention_hint(chat))
        if approver not in found:
            found.append(approver)
    return tuple(found), delivery


def _approver(chat: ChatKind, word: str) -> Approver | None:
    if chat is ChatKind.SLACK:
        if m := _SLACK_USER.fullmatch(word):
            return Approver("user", m.group(1))
        if m := _SLACK_GROUP.fullmatch(word):
            return Approver("group", m.group(1))
        return None
    if chat is ChatKind.DISCORD:
        if m := _DISCORD_ROLE.fullmatch(word):
            return Approver("group", m.group(1))
        if m := _DISCORD_USER.fullmatch(word):
            return Approver("user", m.group(1))
        return None
    # The console: people by their login name.
    return Approver("user", word.lstrip("@")) if re.fullmatch(r"@?[\w.-]{1,64}", word) else None


def _mention_hint(chat: ChatKind) -> str:
    if chat is ChatKind.SLACK:
        return "Mention people (@ana) or a user group (@video-leads): " + _APPROVAL_HELP
    if chat is ChatKind.DISCORD:
        return "Mention people (@ana) or a role (@Video leads): " + _APPROVAL_HELP
    return "Name people by their login: e.g. /approval on ana bob, /approval off"


_ID_WORD = re.compile(r"#?[0-9]+,?", re.ASCII)


def read_review(text: str, command: str) -> tuple[list[int], str]:
    """``12 13 tomorrow 9am`` → ([12, 13], "tomorrow 9am"): the post ids first, then the rest."""
    words = text.split()
    ids: list[int] = []
    while words and _ID_WORD.fullmatch(words[0]):
        ids += [parse_post_id(w) for w in words.pop(0).split(",") if w]
    if not ids:
        raise UserError("Which post?", hint=f"Use the number shown by /queue, e.g. /{command} 12.")
    return ids, " ".join(words)


@dataclass(frozen=True)
class _Decided:
    posts: list[PostView]
    rules: dict[str, ApprovalRule]


class Approval(ServiceBase):
    """/approval, /approve, /reject, a ✅ on a scheduling answer, an approver's Change time."""

    # -- the channel's rule ------------------------------------------------------------------------

    async def set_approval(self, ctx: ChatContext, text: str) -> ApprovalRule | None:
        """`/postbot approval on [approvers] [dm]`, `off`, or nothing (show). Returns the channel's
        rule after the command (None: off)."""
        word, _, rest = text.strip().partition(" ")
        word = word.lower()
        if word not in ("", "on", "off", "show"):
            raise UserError(f"'{word[:40]}' is not on or off.", hint=_APPROVAL_HELP)
        if ctx.channel_id is None:
            raise UserError("Approval is set per channel.", hint="Run it in the channel it is for.")
        if word in ("on", "off") and not ctx.is_admin:
            raise PermissionDenied("Only an admin can turn approval on or off.")
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            if word in ("", "show"):
                return await approvals.rule(session, member.team_id, ctx.channel_id)
            if word == "off":
                await approvals.clear_rule(session, member.team_id, ctx.channel_id)
                return None
            approvers, delivery = read_approvers(ctx.chat, rest)
            return await approvals.set_rule(
                session,
                member.team_id,
                ctx.channel_id,
                approvers,
                delivery,
                by=ctx.user_id,
                at=self.clock(),
            )

    async def approval_rule_for(self, ctx: ChatContext, post: PostView) -> ApprovalRule | None:
        """The rule of the channel ``post`` was queued from (who to ask about it)."""
        async with self.sessions() as session:
            team_id = await teams.find(session, ctx)
            if team_id is None:
                return None
            return await approvals.rule(session, team_id, post.channel_id)

    # -- decisions ---------------------------------------------------------------------------------

    async def _decidable(
        self, session: AsyncSession, ctx: ChatContext, team_id: int, post_ids: Collection[int], tz: str
    ) -> _Decided:
        """The posts, read in the asker's team only (an id from another workspace or server is
        "no such post"), after checking the asker approves in each post's channel."""
        found = [await posts.get(session, team_id, pid, tz=tz) for pid in dict.fromkeys(post_ids)]
        rules = await approvals.rules(session, team_id, {p.channel_id for p in found if p.channel_id})
        for post in found:
            rule = rules.get(post.channel_id or "")
            # Approval turned off since the post was queued: an admin still decides what waits.
            allowed = rule.admits(ctx.user_id, ctx.groups, is_admin=ctx.is_admin) if rule else ctx.is_admin
            if not allowed:
                raise PermissionDenied(f"Only an approver of this channel can approve or reject #{post.id}.")
        return _Decided(found, rules)

    async def approve(
        self,
        ctx: ChatContext,
        post_ids: Collection[int],
        *,
        when: str | None = None,
        now: bool = False,
        seen: Mapping[int, int] | None = None,
        request: MessageRef | None = None,
    ) -> ReviewOutcome:
        """Approve awaiting posts (a button, ``/approve <id>``). ``now``: publish at once (the
        answer to "its time has passed"); ``when``: at that time instead of theirs. ``seen``: each
        post's revision the request showed (a button); a post changed since is left (``stale``).
        ``request``: the request message pressed, which the caller redraws itself: it is not
        redrawn again with the other copies."""
        at = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            decided = await self._decidable(session, ctx, member.team_id, post_ids, tz)
            run_at: datetime | None = at if now else None
            if when is not None:
                parsed = parse_when(when, tz, at, horizon=self.horizon)
                if parsed.instant is None:
                    raise UserError("Give a time for it.", hint="e.g. tomorrow 9am")
                run_at = parsed.instant
            ids = [p.id for p in decided.posts]
            done = set(
                await approvals.approve(
                    session, member.team_id, ids, by=ctx.user_id, at=at, run_at=run_at, seen=seen
                )
            )
            if done:
                await wakeups.announce(session, run_at or min(p.run_at for p in decided.posts))
                if request is not None:
                    await ApprovalRequests(session).forget_message(member.team_id, request)
            after = [await posts.get(session, member.team_id, pid, tz=tz) for pid in ids]
        outcome = _review(after, done, at, seen)
        if done:
            self._decided()
            if self._wake is not None:
                self._wake(min(p.run_at for p in outcome.done))
        return outcome

    async def approve_text(self, ctx: ChatContext, text: str) -> ReviewOutcome:
        """`/approve <id> [<id> ...] [now | <when>]`."""
        ids, rest = read_review(text, "approve")
        if rest.lower() == "now":
            return await self.approve(ctx, ids, now=True)
        return await self.approve(ctx, ids, when=rest or None)

    async def reject_text(self, ctx: ChatContext, text: str) -> ReviewOutcome:
        """`/reject <id> [<id> ...] [reason]`."""
        ids, reason = read_review(text, "reject")
        return await self.reject(ctx, ids, reason)

    async def approve_message(self, ctx: ChatContext, reply: MessageRef) -> ReviewOutcome:
        """✅ on a scheduling answer: approve the posts it answered. Nothing when it answered none
        (a ✅ on any other message)."""
        async with self.sessions() as session:
            team_id = await teams.find(session, ctx)
            ids = await approvals.posts_answered_by(session, team_id, reply) if team_id else []
        if not ids:
            return ReviewOutcome(done=[])
        # The answer showed each post as it was queued (revision 0): a post moved since (by its
        # author, or an approver's Change time) is approved from a request that shows it now.
        return await self.approve(ctx, ids, seen=dict.fromkeys(ids, 0))

    async def reject(
        self,
        ctx: ChatContext,
        post_ids: Collection[int],
        reason: str = "",
        *,
        seen: Mapping[int, int] | None = None,
        request: MessageRef | None = None,
    ) -> ReviewOutcome:
        """Reject awaiting posts with a reason; the scheduler tells their author. ``seen`` and
        ``request`` as for :meth:`approve`."""
        reason = " ".join(reason.split())[:MAX_REASON]
        at = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            decided = await self._decidable(session, ctx, member.team_id, post_ids, tz)
            ids = [p.id for p in decided.posts]
            done = set(
                await approvals.reject(
                    session, member.team_id, ids, by=ctx.user_id, reason=reason or None, seen=seen
                )
            )
            if done:
                await wakeups.announce(session, at)
                if request is not None:
                    await ApprovalRequests(session).forget_message(member.team_id, request)
            after = [await posts.get(session, member.team_id, pid, tz=tz) for pid in ids]
        if done:
            self._decided()
            if self._wake is not None:
                # The author hears of it on the scheduler's next round.
                self._wake(at)
        stale = {p.id for p in _stale(after, done, seen)}
        return ReviewOutcome(
            done=[p for p in after if p.id in done],
            already=[p for p in after if p.id not in done and p.id not in stale],
            stale=[p for p in after if p.id in stale],
        )

    async def change_time(self, ctx: ChatContext, post_id: int, when: str) -> PostView:
        """An approver moves an awaiting post (its request's Change time): it still waits for an
        approval, now at the new time."""
        at = self.clock()
        async with self.sessions.begin() as session:
            member = await teams.member(session, ctx, self.settings.default_timezone)
            tz = member.zone
            decided = await self._decidable(session, ctx, member.team_id, [post_id], tz)
            if decided.posts[0].status is not PostStatus.AWAITING:
                raise UserError(f"Post #{post_id} is not waiting for approval any more.")
            parsed = parse_when(when, tz, at, horizon=self.horizon)
            if parsed.instant is None:
                raise UserError("Give a time for it.", hint="e.g. tomorrow 9am")
            view = await posts.reschedule(session, member.team_id, post_id, parsed.instant, tz=tz)
            await wakeups.announce(session, parsed.instant)
        if self._wake is not None:
            self._wake(view.run_at)
        return view

    # -- the request messages ----------------------------------------------------------------------

    async def remember_requests(
        self, ctx: ChatContext, shown: Sequence[PostView], messages: Collection[MessageRef]
    ) -> None:
        """The chat sent ``messages`` (a request in a thread, each approver's DM copy), each showing
        ``shown``: once none of them awaits, each message is redrawn (:class:`RequestCloser`)."""
        if not shown or not messages:
            return
        async with self.sessions.begin() as session:
            team_id = await teams.find(session, ctx)
            if team_id is not None:
                await ApprovalRequests(session).remember(team_id, shown, messages)

    async def closed_requests(
        self, chat: ChatKind, *, limit: int = 20, lease: timedelta = timedelta(seconds=60)
    ) -> list[RequestCopy]:
        """Up to ``limit`` of ``chat``'s request messages whose posts were all decided (or cancelled),
        each this caller's to redraw for ``lease``, then :meth:`forget_requests`."""
        async with self.sessions.begin() as session:
            return await ApprovalRequests(session).claim_closed(
                chat, now=self.clock(), lease=lease, limit=limit
            )

    async def forget_requests(self, copies: Collection[RequestCopy]) -> None:
        if copies:
            async with self.sessions.begin() as session:
                await ApprovalRequests(session).forget(copies)


Redraw = Callable[[RequestCopy], Awaitable[bool]]


class RequestCloser:
    """Redraws one chat's closed request messages as decided, buttons gone, each once.

    A decision may be made in any process: a second Slack process, a worker, the command of a
    process that did not send the DMs. The messages are in the database, so whichever process
    reaches the chat redraws them: at once when the decision was made here (the facade tells
    :meth:`kick`), else on the next poll (every ``interval_s``), which costs one grouped read of a
    table holding only open requests. Two processes polling the same chat redraw a message once:
    each claims it with a lease (core/store/approval_requests.py).

    ``redraw`` edits one message and returns True once it is redrawn or gone (the chat refuses it
    for good: deleted, channel gone); False (or an error) leaves it for when its lease ends. Messages
    are redrawn one after another, so a burst of decisions stays under the chat's edit rate
    (Slack's chat.update is Tier 3); the chat client waits out a 429's Retry-After.
    """

    def __init__(
        self,
        postbot: Approval,
        chat: ChatKind,
        redraw: Redraw,
        *,
        interval_s: float = 5.0,
        batch: int = 20,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.postbot = postbot
        self.chat = chat
        self.redraw = redraw
        self.interval_s = interval_s
        self.batch = batch
        self.lease = lease
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        postbot.listen_for_decisions(self.kick)

    def kick(self) -> None:
        """A decision in this process: redraw now rather than at the next poll."""
        self._due.set()
        self.start()

    def start(self) -> None:
        if self._task is None and not self._stopped:
            with contextlib.suppress(RuntimeError):
                # No running loop (a decision outside one, e.g. a synchronous test): the next start.
                self._task = asyncio.get_running_loop().create_task(
                    self._run(), name=f"postbot-requests-{self.chat.value}"
                )

    async def stop(self) -> None:
        """For good: the chat stops taking requests."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._due.clear()
            try:
                while await self.run_once() >= self.batch:
                    pass
            except Exception:
                log.exception("redrawing decided approval requests failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self.interval_s)

    async def run_once(self) -> int:
        """Redraw the closed messages claimed now; how many were claimed."""
        copies = await self.postbot.closed_requests(self.chat, limit=self.batch, lease=self.lease)
        done: list[RequestCopy] = []
        for copy in copies:
            try:
                if await self.redraw(copy):
                    done.append(copy)
            except Exception:
                log.exception(
                    "redrawing an approval request failed", extra={"message": copy.message.message_id}
                )
        await self.postbot.forget_requests(done)
        return len(copies)


def _stale(after: list[PostView], done: set[int], seen: Mapping[int, int] | None) -> list[PostView]:
    """Posts still awaiting that changed since the request the approver acted on."""
    if seen is None:
        return []
    return [
        p
        for p in after
        if p.id not in done and p.status is PostStatus.AWAITING and seen.get(p.id, -1) != p.revision
    ]


def _review(
    after: list[PostView], done: set[int], at: datetime, seen: Mapping[int, int] | None
) -> ReviewOutcome:
    stale = _stale(after, done, seen)
    left = {p.id for p in stale}
    overdue = [
        p
        for p in after
        if p.id not in done and p.id not in left and p.status is PostStatus.AWAITING and p.run_at <= at
    ]
    left |= {p.id for p in overdue}
    return ReviewOutcome(
        done=[p for p in after if p.id in done],
        already=[p for p in after if p.id not in done and p.id not in left],
        overdue=overdue,
        stale=stale,
    )
