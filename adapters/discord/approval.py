"""Approval in Discord: the request approvers get (a reply to the scheduling answer, or by DM), its
Approve / Reject / Change time buttons and their modals, and a ✅ reaction on the scheduling answer.

The buttons carry post ids, each with the revision the request showed (``1.3``; a bare ``1`` is
revision 0), and are registered as dynamic items, so they work after a restart; a press on a request
older than the post (moved since, or back to awaiting) changes nothing and redraws it as it is now;
who pressed, in which server, comes from the interaction and the facade decides (an id from another
server is "no such post" there; a member who does not approve in the post's channel is refused).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import discord

from adapters.discord.context import chat_context
from adapters.discord.replies import named, user_message
from core.domain import (
    ApprovalDelivery,
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
    approvers_text,
    closed_request_note,
    duration_text,
    review_text,
    stale_text,
)
from core.service import Postbot, ScheduleOutcome

if TYPE_CHECKING:
    from adapters.discord.client import PostbotClient

log = logging.getLogger(__name__)

# ✅ and ✔️ as MESSAGE_REACTION_ADD's emoji.name carries a standard emoji: the character itself
# (https://discord.com/developers/docs/resources/emoji#emoji-object, "name": "🔥" for standard ones).
APPROVING_EMOJI = frozenset({"✅", "✔️", "☑️"})
_ID = r"[0-9]{1,19}(?:\.[0-9]{1,6})?"
_IDS = rf"(?P<ids>{_ID}(?:,{_ID}){{0,3}})"
_COLOUR = discord.Colour.gold()
_NO_MENTIONS = discord.AllowedMentions.none()
_STALE_NOTE = "🔄 The post changed since this request was sent; this is it now."


def _client(interaction: discord.Interaction) -> PostbotClient:
    return cast("PostbotClient", interaction.client)


Seen = dict[int, int]


def _seen(raw: str) -> Seen:
    """``1.3,2`` → {1: 3, 2: 0}: each post and the revision its request showed."""
    found: Seen = {}
    for word in raw.split(","):
        if word:
            post, _, revision = word.partition(".")
            found[int(post)] = int(revision or 0)
    return found


def _joined(seen: Seen) -> str:
    # A custom_id holds at most 100 characters
    # (https://discord.com/developers/docs/components/reference#button): up to four posts, and
    # revision 0 (as queued) written as the bare id.
    return ",".join(f"{i}.{r}" if r else str(i) for i, r in list(seen.items())[:4])


def _shown(posts: list[PostView]) -> Seen:
    return {p.id: p.revision for p in posts}


def _when(post: PostView) -> str:
    # Discord renders <t:…> in each reader's own zone (https://discord.com/developers/docs/reference#message-formatting).
    stamp = int(post.run_at.timestamp())
    return f"<t:{stamp}:F> (<t:{stamp}:R>)"


def _moment(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:f>"


def _ref(message: discord.Message | discord.PartialMessage) -> MessageRef:
    return MessageRef(str(message.channel.id), str(message.id))


def _pressed(interaction: discord.Interaction) -> MessageRef | None:
    """The request message a button (or the modal it opened) was pressed on: the press's own answer
    redraws it, so it is not redrawn again with the other copies."""
    return _ref(interaction.message) if interaction.message is not None else None


def request_embed(posts: list[PostView], note: str | None = None) -> discord.Embed:
    first = posts[0]
    embed = discord.Embed(title="Approval needed", colour=_COLOUR)
    embed.description = (
        f"**{first.media_name or 'A video'}** ({duration_text(first.media_duration_s)}) from "
        f"<@{first.author_id}>, to go out {_when(first)}."
    )[:4096]
    for line, post in zip(approval_request_lines(posts, "")[1:], posts, strict=False):
        embed.add_field(
            name=f"#{post.id} {post.platform.label}", value=line.split(": ", 1)[-1][:1024], inline=False
        )
    if note:
        embed.add_field(name="Decision", value=note[:1024], inline=False)
    return embed


def request_view(posts: list[PostView], *, overdue: bool = False) -> discord.ui.View:
    seen = _shown(posts)
    view = discord.ui.View(timeout=None)
    if overdue:
        view.add_item(NowButton(seen))
        view.add_item(TimeButton(seen, approve=True))
    else:
        view.add_item(ApproveButton(seen))
        view.add_item(RejectButton(seen))
        view.add_item(TimeButton(seen))
    view.stop()
    return view


async def ask(
    client: discord.Client, ctx: ChatContext, outcome: ScheduleOutcome, answer: discord.Message
) -> None:
    """Send the request for ``outcome``'s awaiting posts: a reply to the scheduling answer with the
    buttons, pinging the approvers; with ``dm``, each approver named as a person also gets it by DM
    with a link to it. The buttons stay in the server: a press in a DM carries no server, so it
    could not say which server's post it decides (and a role's members are not known without the
    privileged members intent)."""
    rule = outcome.approval
    if rule is None or outcome.duplicate:
        return
    people = [a.id for a in rule.approvers if a.kind == "user"]
    dm = rule.delivery is ApprovalDelivery.DM and bool(people)
    who = approvers_text(rule, ChatKind.DISCORD)
    sent: list[MessageRef] = []
    try:
        request = await answer.channel.send(
            "Approval needed." if dm else f"Approval needed from {who}.",
            embed=request_embed(outcome.posts),
            view=request_view(outcome.posts),
            reference=answer.to_reference(fail_if_not_exists=False),
            # Ping the approvers the rule names (people and roles), nobody else; by DM instead
            # when the channel asks approvers privately.
            allowed_mentions=discord.AllowedMentions.none()
            if dm
            else discord.AllowedMentions(everyone=False, users=True, roles=True, replied_user=False),
        )
        sent.append(_ref(request))
        if dm:
            for person in people:
                # A DM channel from the id alone (no user lookup, no members intent).
                channel = await client.create_dm(discord.Object(int(person)))
                copy = await channel.send(
                    f"Approval needed: {request.jump_url}", embed=request_embed(outcome.posts)
                )
                sent.append(_ref(copy))
    except discord.HTTPException as exc:
        log.warning("could not send the approval request", extra={"code": exc.code})
    finally:
        # Each copy that went out is redrawn once the posts are decided (:func:`redraw_closed`).
        await _postbot(client).remember_requests(ctx, outcome.posts, sent)


def _postbot(client: discord.Client) -> Postbot:
    return cast("PostbotClient", client).postbot


# Errors for a message that can't be redrawn any more: Unknown Channel, Unknown Message, Missing
# Access, Cannot edit a message authored by another user
# (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json-json-error-codes).
_GONE = frozenset({10003, 10008, 50001, 50005})


async def redraw_closed(client: discord.Client, copy: RequestCopy) -> bool:
    """A request message (the one in the channel, or an approver's DM copy) whose posts are all
    decided or gone: redrawn as decided, without buttons. True once redrawn or gone for good."""
    note = closed_request_note(copy.posts, _moment)
    message = client.get_partial_messageable(int(copy.message.channel_id)).get_partial_message(
        int(copy.message.message_id)
    )
    try:
        await message.edit(
            content="No longer awaiting approval.",
            embed=request_embed(list(copy.posts), note),
            view=None,
            allowed_mentions=_NO_MENTIONS,
        )
    except discord.HTTPException as exc:
        if exc.code in _GONE:
            log.info("approval request gone before its redraw", extra={"code": exc.code})
            return True
        log.warning("could not redraw a decided approval request", extra={"code": exc.code})
        return False
    return True


def _note(ctx: ChatContext, outcome: ReviewOutcome, verb: str) -> str:
    who = f"<@{ctx.user_id}>"
    ids = ", ".join(f"#{p.id} {p.platform.label}" for p in outcome.done)
    if verb == "Approved":
        return f"✅ {ids} approved by {who}; it goes out {_when(outcome.done[0])}."
    reason = outcome.done[0].review_note
    return f"⛔ {ids} rejected by {who}" + (f": {reason}" if reason else ".")


async def _show(
    interaction: discord.Interaction, ctx: ChatContext, outcome: ReviewOutcome, verb: str
) -> None:
    """The request after a decision (edited in place), or why nothing changed (privately)."""
    if outcome.done:
        posts = outcome.done
        await interaction.edit_original_response(
            embed=request_embed(posts, _note(ctx, outcome, verb)), view=None, allowed_mentions=_NO_MENTIONS
        )
        return
    if outcome.stale:
        # Nothing decided: the request is redrawn as the post is now (the newest request), and the
        # presser hears why, privately.
        await interaction.edit_original_response(
            embed=request_embed(outcome.stale, _STALE_NOTE),
            view=request_view(outcome.stale),
            allowed_mentions=_NO_MENTIONS,
        )
    elif outcome.overdue:
        await interaction.edit_original_response(
            embed=request_embed(outcome.overdue, "Its time has passed: publish it now, or pick a new time."),
            view=request_view(outcome.overdue, overdue=True),
        )
        return
    elif outcome.already:
        # Decided by someone else: the request stops offering buttons and says who.
        await interaction.edit_original_response(
            embed=request_embed(outcome.already, review_text(outcome, verb)),
            view=None,
            allowed_mentions=_NO_MENTIONS,
        )
    await interaction.followup.send(named(review_text(outcome, verb)), ephemeral=True)


class _Decision(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"postbot:ok:" + _IDS):
    prefix = "postbot:ok:"
    label = "Approve"
    style = discord.ButtonStyle.success

    def __init__(self, seen: Seen) -> None:
        super().__init__(
            discord.ui.Button(label=self.label, style=self.style, custom_id=f"{self.prefix}{_joined(seen)}")
        )
        self.seen = seen
        self.ids = list(seen)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Any:
        return cls(_seen(match["ids"]))


class ApproveButton(_Decision, template=r"postbot:ok:" + _IDS):
    async def callback(self, interaction: discord.Interaction) -> None:
        await _approve(interaction, self.seen, now=False)


class NowButton(_Decision, template=r"postbot:now:" + _IDS):
    prefix = "postbot:now:"
    label = "Publish now"

    async def callback(self, interaction: discord.Interaction) -> None:
        await _approve(interaction, self.seen, now=True)


async def _approve(interaction: discord.Interaction, seen: Seen, *, now: bool) -> None:
    await interaction.response.defer()
    ctx = chat_context(interaction)
    try:
        outcome = await _client(interaction).postbot.approve(
            ctx, list(seen), now=now, seen=seen, request=_pressed(interaction)
        )
    except UserError as exc:
        await interaction.followup.send(user_message(exc), ephemeral=True)
        return
    await _show(interaction, ctx, outcome, "Approved")


class RejectButton(_Decision, template=r"postbot:no:" + _IDS):
    prefix = "postbot:no:"
    label = "Reject"
    style = discord.ButtonStyle.danger

    async def callback(self, interaction: discord.Interaction) -> None:
        # A modal must be the first answer to the press (callback type 9).
        await interaction.response.send_modal(ReasonModal(self.seen))


class TimeButton(_Decision, template=r"postbot:(?P<kind>time|late):" + _IDS):
    label = "Change time"
    style = discord.ButtonStyle.secondary

    def __init__(self, seen: Seen, *, approve: bool = False) -> None:
        self.prefix = "postbot:late:" if approve else "postbot:time:"
        self.label = "Pick a new time" if approve else "Change time"
        super().__init__(seen)
        self.approve = approve

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Any:
        return cls(_seen(match["ids"]), approve=match["kind"] == "late")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(TimeModal(self.seen, approve=self.approve))


class ReasonModal(discord.ui.Modal, title="Reject post"):
    reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Reason (the author sees it)", style=discord.TextStyle.paragraph, max_length=500, required=False
    )

    def __init__(self, seen: Seen) -> None:
        super().__init__(custom_id=f"postbot:reason:{_joined(seen)}")
        self.seen = seen
        self.ids = list(seen)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        ctx = chat_context(interaction)
        try:
            outcome = await _client(interaction).postbot.reject(
                ctx, self.ids, str(self.reason.value or ""), seen=self.seen, request=_pressed(interaction)
            )
        except UserError as exc:
            await interaction.followup.send(user_message(exc), ephemeral=True)
            return
        await _show(interaction, ctx, outcome, "Rejected")


class TimeModal(discord.ui.Modal, title="New time"):
    when: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="When", placeholder="e.g. tomorrow 9am", max_length=100
    )

    def __init__(self, seen: Seen, *, approve: bool) -> None:
        super().__init__(custom_id=f"postbot:when:{_joined(seen)}")
        self.seen = seen
        self.ids = list(seen)
        self.approve = approve

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        ctx = chat_context(interaction)
        postbot = _client(interaction).postbot
        try:
            if self.approve:
                outcome = await postbot.approve(
                    ctx, self.ids, when=str(self.when.value), seen=self.seen, request=_pressed(interaction)
                )
                await _show(interaction, ctx, outcome, "Approved")
                return
            moved = [await postbot.change_time(ctx, i, str(self.when.value)) for i in self.ids]
        except UserError as exc:
            await interaction.followup.send(user_message(exc), ephemeral=True)
            return
        note = f"Moved to {_when(moved[0])} by <@{ctx.user_id}>; it still awaits approval."
        await interaction.edit_original_response(
            embed=request_embed(moved, note), view=request_view(moved), allowed_mentions=_NO_MENTIONS
        )


DYNAMIC_ITEMS = (ApproveButton, NowButton, RejectButton, TimeButton)


async def on_reaction(client: PostbotClient, payload: discord.RawReactionActionEvent) -> None:
    """MESSAGE_REACTION_ADD (https://discord.com/developers/docs/events/gateway-events#message-reaction-add):
    a ✅ by an approver on a scheduling answer approves its posts; anyone else's, or one on another
    message, changes nothing and says nothing."""
    if (
        payload.guild_id is None
        or payload.emoji.name not in APPROVING_EMOJI
        or (client.user is not None and payload.user_id == client.user.id)
    ):
        return
    member = payload.member
    if member is None:
        return
    perms = member.guild_permissions
    ctx = ChatContext(
        chat=ChatKind.DISCORD,
        team_id=str(payload.guild_id),
        user_id=str(payload.user_id),
        channel_id=str(payload.channel_id),
        user_name=member.name,
        is_admin=bool(perms.manage_guild or perms.administrator),
        groups=frozenset(str(r.id) for r in member.roles),
    )
    try:
        outcome = await client.postbot.approve_message(
            ctx, MessageRef(str(payload.channel_id), str(payload.message_id))
        )
    except (PermissionDenied, NotFound) as exc:
        log.info("reaction approves nothing", extra={"reason": str(exc)})
        return
    except Exception:
        log.exception("approving by reaction failed")
        return
    if not (outcome.done or outcome.overdue or outcome.stale):
        return
    channel = client.get_partial_messageable(payload.channel_id)
    answer = discord.MessageReference(
        message_id=payload.message_id, channel_id=payload.channel_id, fail_if_not_exists=False
    )
    try:
        if outcome.stale and not outcome.done:
            # A ✅ on an answer older than the post: the request as the post is now, saying why.
            again = await channel.send(
                f"<@{ctx.user_id}>: {stale_text(outcome.stale[0])}",
                embed=request_embed(outcome.stale),
                view=request_view(outcome.stale),
                reference=answer,
                allowed_mentions=_NO_MENTIONS,
            )
            await client.postbot.remember_requests(ctx, outcome.stale, [_ref(again)])
        if outcome.overdue:
            asked = await channel.send(
                embed=request_embed(
                    outcome.overdue, "Its time has passed: publish it now, or pick a new time."
                ),
                view=request_view(outcome.overdue, overdue=True),
                reference=answer,
                allowed_mentions=_NO_MENTIONS,
            )
            await client.postbot.remember_requests(ctx, outcome.overdue, [_ref(asked)])
        if outcome.done:
            await channel.send(
                _note(ctx, outcome, "Approved") + " (✅)", reference=answer, allowed_mentions=_NO_MENTIONS
            )
    except discord.HTTPException as exc:
        log.warning("could not confirm an approval", extra={"code": exc.code})
