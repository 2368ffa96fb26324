"""Approval in Slack: the request approvers get (in the scheduling answer's thread, or by DM), its
Approve / Reject / Change time buttons and their forms, and a ✅ reaction on the scheduling answer.

Every button carries the post ids, each with the revision the request showed (``1.3,2.0``); who
clicked, in which workspace, is read from the payload and the facade decides (an id from another
workspace is "no such post" there; a clicker who does not approve in the post's channel is refused).
Approving is one conditional UPDATE in the core, so a double click or two approvers at once approve
and publish once, and a press on a request older than the post (moved since, or back to awaiting)
changes nothing: the request is redrawn as the post is now.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import Blocks, escape
from adapters.slack.context import Directory
from core.domain import (
    ApprovalDelivery,
    ApprovalRule,
    ChatContext,
    ChatKind,
    MessageRef,
    PostView,
    RequestCopy,
    ReviewOutcome,
)
from core.errors import NotFound, PermissionDenied, UserError
from core.render import (
    approval_request_lines,
    closed_request_note,
    duration_text,
    review_text,
    stale_text,
)
from core.service import Postbot, RequestCloser, ScheduleOutcome

if TYPE_CHECKING:
    from adapters.slack.home import HomeTabs

log = logging.getLogger(__name__)

APPROVE_ACTION = "postbot_approve"
REJECT_ACTION = "postbot_reject"
TIME_ACTION = "postbot_approve_time"
NOW_ACTION = "postbot_approve_now"
APPROVAL_PATTERN = re.compile(rf"^({APPROVE_ACTION}|{REJECT_ACTION}|{TIME_ACTION}|{NOW_ACTION}):\d+$")
REJECT_MODAL = "postbot_reject_modal"
TIME_MODAL = "postbot_time_modal"
# ✅ (and the heavier ✔️): the emoji names Slack sends in reaction_added's ``reaction``
# (https://docs.slack.dev/reference/events/reaction_added/).
APPROVING_REACTIONS = frozenset({"white_check_mark", "heavy_check_mark"})
_REASON_MAX = 500
# chat.update's errors for a message that is not there to redraw any more
# (https://api.slack.com/methods/chat.update#errors): deleted, its channel archived or gone, or not
# the bot's. Any other error (ratelimited past the retries, a network failure) is tried again later.
_GONE = frozenset(
    {"message_not_found", "channel_not_found", "cant_update_message", "is_archived", "not_in_channel"}
)

Tell = Callable[[str], Awaitable[None]]


def _slack_time(post: PostView) -> str:
    """The time as each reader's own Slack shows it, in their zone: ``<!date^…>`` formatting
    (https://api.slack.com/reference/surfaces/formatting#date-formatting); the fallback is the
    author's zone, for clients that can't."""
    return _slack_moment(post.run_at)


def _slack_moment(moment: datetime) -> str:
    stamp = int(moment.timestamp())
    fallback = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _button(action: str, posts: list[PostView], label: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{action}:{posts[0].id}",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        # What the approver is shown: each post at its revision (a decision on an older one is refused).
        "value": ",".join(f"{p.id}.{p.revision}" for p in posts),
    }
    if style:
        button["style"] = style
    return button


def request_blocks(posts: list[PostView], *, buttons: bool = True) -> tuple[str, Blocks]:
    """The request: video (name, length), time in the reader's zone, per platform its caption,
    account and options; then Approve, Reject and Change time."""
    first = posts[0]
    media = escape(first.media_name or "a video")
    # What the author wrote is escaped; the mention and the date are postbot's own control sequences.
    head = (
        f"Approval needed: *{media}* ({duration_text(first.media_duration_s)}) from <@{first.author_id}>, "
        f"to go out {_slack_time(first)}."
    )
    body = "\n".join(f"• {escape(line)}" for line in approval_request_lines(posts, "")[1:])
    ids = [p.id for p in posts]
    blocks: Blocks = [
        {
            "type": "section",
            "block_id": "request",
            "text": {"type": "mrkdwn", "text": f":raised_hand: {head}"},
        },
        {"type": "section", "block_id": "captions", "text": {"type": "mrkdwn", "text": body[:3000]}},
    ]
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": "decide",
                "elements": [
                    _button(APPROVE_ACTION, posts, "Approve", "primary"),
                    _button(REJECT_ACTION, posts, "Reject", "danger"),
                    _button(TIME_ACTION, posts, "Change time"),
                ],
            }
        )
    text = escape(f"Approval needed for #{', #'.join(str(i) for i in ids)} ({posts[0].platform.label})")
    return text, blocks


def overdue_blocks(posts: list[PostView]) -> Blocks:
    ids = [p.id for p in posts]
    when = _slack_time(posts[0])
    return [
        {
            "type": "section",
            "block_id": "overdue",
            "text": {
                "type": "mrkdwn",
                "text": f"#{', #'.join(str(i) for i in ids)} was due {when}, which has passed. "
                "Publish it now, or pick a new time?",
            },
        },
        {
            "type": "actions",
            "block_id": "overdue_choice",
            "elements": [
                _button(NOW_ACTION, posts, "Publish now", "primary"),
                _button(TIME_ACTION, posts, "Pick a new time"),
            ],
        },
    ]


_SEEN = re.compile(r"([0-9]{1,19})(?:\.([0-9]{1,9}))?")


def _seen(action: dict[str, Any]) -> dict[int, int]:
    """``1.3,2.0`` → {1: 3, 2: 0}: each post and the revision its request showed. A button from
    before revisions (``1,2``) showed the post as queued: revision 0."""
    found: dict[int, int] = {}
    for word in str(action.get("value", "")).split(",")[:50]:
        if m := _SEEN.fullmatch(word.strip()):
            found[int(m[1])] = int(m[2] or 0)
    return found


def _decided_blocks(message: dict[str, Any], note: str) -> Blocks:
    """The request after a decision: its buttons gone, a line saying who did what."""
    kept = [
        b
        for b in message.get("blocks") or []
        if b.get("type") != "actions" and b.get("block_id") != "overdue"
    ]
    return [
        *[{**b, "block_id": f"{b['block_id']}~d"} if b.get("block_id") else b for b in kept],
        {"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2000]}]},
    ]


def _pressed(channel: object, ts: object) -> MessageRef | None:
    """The request message a button was pressed on (it is redrawn by the press's own answer)."""
    return MessageRef(str(channel), str(ts)) if channel and ts else None


def _text_modal(callback: str, title: str, label: str, meta: dict[str, Any], *, hint: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(meta),
        "blocks": [
            {
                "type": "input",
                "block_id": "field",
                "label": {"type": "plain_text", "text": label},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "max_length": _REASON_MAX,
                    "placeholder": {"type": "plain_text", "text": hint},
                },
            }
        ],
    }


_STALE_NOTE = ":arrows_counterclockwise: The post changed since this request was sent; this is it now."


class SlackApproval:
    """The approval listeners; the handlers pass their guard and their ways of telling people."""

    def __init__(
        self,
        *,
        postbot: Postbot,
        client: AsyncWebClient,
        directory: Directory,
        homes: HomeTabs,
        acked: Callable[..., Awaitable[None]],
    ) -> None:
        self.postbot = postbot
        self.client = client
        self.directory = directory
        self.homes = homes
        self._acked = acked
        # Every request message sent is stored; once its posts are decided anywhere, this process
        # or another Slack one redraws it (core.service.RequestCloser says how).
        self.closer = RequestCloser(postbot, ChatKind.SLACK, self.redraw_closed)

    def register(self, app: Any) -> None:
        app.action(APPROVAL_PATTERN)(self.on_button)
        app.view(REJECT_MODAL)(self.on_reject_form)
        app.view(TIME_MODAL)(self.on_time_form)
        app.event("reaction_added")(self.on_reaction)

    # ------------------------------------------------------------------ asking

    async def ask(self, ctx: ChatContext, outcome: ScheduleOutcome, answer: MessageRef) -> None:
        """Send the request for ``outcome``'s awaiting posts: under the scheduling answer, or to each
        approver by DM. A failure costs the request, never the posts (✅ and /approve still work)."""
        rule = outcome.approval
        if rule is None or outcome.duplicate:
            return
        text, layout = request_blocks(outcome.posts)
        thread = ctx.thread_id or answer.message_id
        sent: list[MessageRef] = []
        try:
            if rule.delivery is ApprovalDelivery.DM:
                people = await self._approver_ids(rule)
                if people:
                    for person in sorted(people):
                        opened = await self.client.conversations_open(users=person)
                        dm = await self.client.chat_postMessage(
                            channel=opened["channel"]["id"], text=text, blocks=layout
                        )
                        sent.append(MessageRef(str(dm["channel"]), str(dm["ts"])))
                    return
            posted = await self.client.chat_postMessage(
                channel=answer.channel_id, thread_ts=thread, text=text, blocks=layout
            )
            sent.append(MessageRef(str(posted["channel"]), str(posted["ts"])))
        except SlackApiError as exc:
            log.warning("could not send the approval request", extra={"error": exc.response.get("error")})
        finally:
            # The copies that went out, even when a later approver's could not.
            await self.postbot.remember_requests(ctx, outcome.posts, sent)

    async def _approver_ids(self, rule: ApprovalRule) -> set[str]:
        people = {a.id for a in rule.approvers if a.kind == "user"}
        groups = [a.id for a in rule.approvers if a.kind == "group"]
        if groups:
            members = await self.directory.group_members()
            for group in groups:
                people |= members.get(group, frozenset())
        if not rule.approvers:
            # The admins: the ones the configuration names (Slack lists no workspace admins cheaply).
            people |= self.directory.admin_ids
        return people

    # ------------------------------------------------------------------ buttons and forms

    async def _ctx(self, team_id: str, user_id: str, channel_id: str | None) -> ChatContext:
        return await self.directory.context(team_id=team_id, user_id=user_id, channel_id=channel_id)

    async def on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        kind = action["action_id"].split(":", 1)[0]
        seen = _seen(action)
        ids = list(seen)
        if kind in (REJECT_ACTION, TIME_ACTION):
            # A form first; the trigger_id lives 3 seconds, so open it before anything slow.
            await ack()
            await self._open_form(body, kind, seen)
            return

        async def work(tell: Tell) -> None:
            channel = (body.get("channel") or {}).get("id")
            ctx = await self._ctx(body["team"]["id"], body["user"]["id"], channel)
            pressed = _pressed(channel, (body.get("message") or {}).get("ts"))
            outcome = await self.postbot.approve(ctx, ids, now=kind == NOW_ACTION, seen=seen, request=pressed)
            await self._show(body, ctx, outcome, tell)

        await self._acked(ack, respond, work, "approval button", body["user"]["id"])

    async def _open_form(self, body: dict[str, Any], kind: str, seen: dict[int, int]) -> None:
        message = body.get("message") or {}
        meta = {
            "ids": list(seen),
            "seen": [[i, r] for i, r in seen.items()],
            "channel": (body.get("channel") or {}).get("id"),
            "ts": message.get("ts"),
            # "Pick a new time" under an overdue question approves at that time.
            "approve": any(b.get("block_id") == "overdue" for b in message.get("blocks") or []),
        }
        if kind == REJECT_ACTION:
            view = _text_modal(
                REJECT_MODAL, "Reject post", "Reason (the author sees it)", meta, hint="what to change"
            )
        else:
            view = _text_modal(TIME_MODAL, "New time", "When", meta, hint="e.g. tomorrow 9am")
        try:
            await self.client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            log.warning("could not open the approval form", extra={"error": exc.response.get("error")})

    async def on_reject_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self._form(ack, body, view, reject=True)

    async def on_time_form(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self._form(ack, body, view, reject=False)

    async def _form(self, ack: Any, body: dict[str, Any], view: dict[str, Any], *, reject: bool) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        value = (view["state"]["values"].get("field", {}).get("value", {}) or {}).get("value") or ""
        ids = [int(i) for i in meta.get("ids", [])][:50]
        seen = {int(i): int(r) for i, r in meta.get("seen") or [[i, 0] for i in ids]}
        ctx = await self._ctx(body["team"]["id"], body["user"]["id"], meta.get("channel"))
        pressed = _pressed(meta.get("channel"), meta.get("ts"))
        try:
            if reject:
                outcome = await self.postbot.reject(ctx, ids, value, seen=seen, request=pressed)
            elif meta.get("approve"):
                outcome = await self.postbot.approve(ctx, ids, when=value, seen=seen, request=pressed)
            else:
                moved = [await self.postbot.change_time(ctx, i, value) for i in ids]
        except UserError as exc:
            # Slack keeps the form open and shows the message under the field
            # (https://api.slack.com/surfaces/modals#displaying_errors).
            await ack(response_action="errors", errors={"field": str(exc)[:150]})
            return
        if (reject or meta.get("approve")) and outcome.stale and not outcome.done:
            # Nothing decided: the form says why and the request is redrawn as the post is now.
            await ack(response_action="errors", errors={"field": stale_text(outcome.stale[0])[:150]})
            await self._edit(meta, outcome.stale, _STALE_NOTE, buttons=True)
            return
        await ack()
        self.homes.changed(ctx.team_id)
        if not reject and not meta.get("approve"):
            note = (
                f"#{', #'.join(str(p.id) for p in moved)} moved to {_slack_time(moved[0])} by "
                f"<@{ctx.user_id}>; it still awaits approval."
            )
            await self._edit(meta, moved, note, buttons=True)
            return
        verb = "Rejected" if reject else "Approved"
        shown = outcome.done or outcome.already or outcome.overdue
        await self._edit(meta, shown, self._note(ctx, outcome, verb), buttons=not outcome.done)

    async def _edit(self, meta: dict[str, Any], posts: list[PostView], note: str, *, buttons: bool) -> None:
        """Redraw the request (it may sit in a thread, where the bot can't read it back) from the
        posts as they are now, with a line saying what happened."""
        channel, ts = meta.get("channel"), meta.get("ts")
        if not channel or not ts or not posts:
            return
        try:
            await self._redraw(channel, ts, posts, note, buttons=buttons)
        except SlackApiError as exc:
            log.warning("could not update the approval request", extra={"error": exc.response.get("error")})

    async def _redraw(
        self, channel: str, ts: str, posts: list[PostView], note: str, *, buttons: bool
    ) -> None:
        _, blocks = request_blocks(posts, buttons=buttons)
        blocks = [
            *[{**b, "block_id": f"{b['block_id']}~{secrets.token_hex(2)}"} for b in blocks],
            {"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2000]}]},
        ]
        await self.client.chat_update(channel=channel, ts=ts, text=note, blocks=blocks)

    async def redraw_closed(self, copy: RequestCopy) -> bool:
        """A request message (any approver's copy, one in a thread) whose posts are all decided or
        gone: redrawn as decided, no buttons. True once redrawn or gone for good."""
        note = closed_request_note(copy.posts, _slack_moment, escape)
        try:
            await self._redraw(
                copy.message.channel_id, copy.message.message_id, list(copy.posts), note, buttons=False
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in _GONE:
                log.info("approval request gone before its redraw", extra={"error": error})
                return True
            log.warning("could not redraw a decided approval request", extra={"error": error})
            return False
        return True

    @staticmethod
    def _note(ctx: ChatContext, outcome: ReviewOutcome, verb: str) -> str:
        who = f"<@{ctx.user_id}>"
        if outcome.done:
            ids = ", ".join(f"#{p.id} {p.platform.label}" for p in outcome.done)
            if verb == "Approved":
                return (
                    f":white_check_mark: {ids} approved by {who}; it goes out {_slack_time(outcome.done[0])}."
                )
            reason = outcome.done[0].review_note
            return f":no_entry: {ids} rejected by {who}" + (f": {escape(reason)}" if reason else ".")
        return escape(review_text(outcome, verb))

    async def _show(self, body: dict[str, Any], ctx: ChatContext, outcome: ReviewOutcome, tell: Tell) -> None:
        """After a button: the request says who approved (buttons gone); an overdue post asks
        publish now or a new time; a post someone else decided says so, privately."""
        if outcome.done:
            self.homes.changed(ctx.team_id)
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        if outcome.overdue and channel and message:
            blocks = [
                b
                for b in message.get("blocks") or []
                if b.get("type") != "actions" and b.get("block_id") != "overdue"
            ]
            await self.client.chat_update(
                channel=channel,
                ts=message["ts"],
                text="Its time has passed",
                blocks=[*blocks, *overdue_blocks(outcome.overdue)],
            )
            return
        if outcome.done and channel and message:
            note = self._note(ctx, outcome, "Approved")
            await self.client.chat_update(
                channel=channel, ts=message["ts"], text=note, blocks=_decided_blocks(message, note)
            )
            return
        if outcome.stale and channel and message:
            # Redrawn as the post is now (its new time, new revision): the newest request is this one.
            await self._edit(
                {"channel": channel, "ts": message.get("ts")}, outcome.stale, _STALE_NOTE, buttons=True
            )
        elif outcome.already and channel and message:
            # Decided by someone else: this copy loses its buttons and says who.
            # Ids, platforms, a mention and a time: nothing the author wrote, so the mention stays live.
            note = review_text(outcome)
            await self.client.chat_update(
                channel=channel, ts=message["ts"], text=note, blocks=_decided_blocks(message, note)
            )
        await tell(review_text(outcome))

    # ------------------------------------------------------------------ ✅ on the scheduling answer

    async def on_reaction(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        """reaction_added (https://docs.slack.dev/reference/events/reaction_added/): a ✅ by an
        approver on a scheduling answer approves its posts. Anyone else's ✅, or one on another
        message, changes nothing and says nothing (a reaction is not a command)."""
        item = event.get("item") or {}
        if event.get("reaction") not in APPROVING_REACTIONS or item.get("type") != "message":
            return
        channel, ts, user = item.get("channel"), item.get("ts"), event.get("user")
        team = body.get("team_id")
        if not (channel and ts and user and team):
            return
        try:
            ctx = await self._ctx(str(team), str(user), str(channel))
            outcome = await self.postbot.approve_message(ctx, MessageRef(str(channel), str(ts)))
        except (PermissionDenied, NotFound) as exc:
            log.info("reaction approves nothing", extra={"reason": str(exc)})
            return
        except Exception:
            log.exception("approving by reaction failed")
            return
        if outcome.stale and not outcome.done:
            await self._ask_again(ctx, str(channel), str(ts), outcome.stale)
        if not (outcome.done or outcome.overdue):
            return
        self.homes.changed(ctx.team_id)
        # The scheduling answer sits in the thread of the video's message when there was one (Slack
        # threads are one level deep): the confirmation goes there too.
        first = (outcome.done or outcome.overdue)[0]
        thread = first.thread_id or str(ts)
        try:
            if outcome.overdue:
                asked = await self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread,
                    text="Its time has passed",
                    blocks=overdue_blocks(outcome.overdue),
                )
                await self.postbot.remember_requests(
                    ctx, outcome.overdue, [MessageRef(str(asked["channel"]), str(asked["ts"]))]
                )
            if outcome.done:
                note = self._note(ctx, outcome, "Approved") + " (✅)"
                await self.client.chat_postMessage(channel=channel, thread_ts=thread, text=note)
        except SlackApiError as exc:
            log.warning("could not confirm an approval", extra={"error": exc.response.get("error")})

    async def _ask_again(self, ctx: ChatContext, channel: str, ts: str, posts: list[PostView]) -> None:
        """A ✅ on an answer older than the post (it moved since): nothing is approved; the request
        as the post is now goes to the answer's thread, saying why."""
        text, blocks = request_blocks(posts)
        note = f"<@{ctx.user_id}>: {escape(stale_text(posts[0]))}"
        try:
            sent = await self.client.chat_postMessage(
                channel=channel,
                thread_ts=posts[0].thread_id or ts,
                text=text,
                blocks=[*blocks, {"type": "context", "elements": [{"type": "mrkdwn", "text": note[:2000]}]}],
            )
        except SlackApiError as exc:
            log.warning("could not send the approval request", extra={"error": exc.response.get("error")})
            return
        await self.postbot.remember_requests(ctx, posts, [MessageRef(str(sent["channel"]), str(sent["ts"]))])
