"""Block Kit for postbot's Slack messages. The words come from core.render; this only lays them out
and attaches the buttons (whose action ids carry the post id, so they work after a restart)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.domain import (
    OptionInfo,
    Platform,
    PlatformInfo,
    PlatformResults,
    PostNumbers,
    PostStatus,
    PostView,
    ResultsReport,
    Slot,
)
from core.render import (
    NAMESPACE,
    approved_note,
    best_post_line,
    digest_heading,
    local_time,
    namespaced,
    options_text,
    platform_results_line,
    post_line,
    relative,
    result_text,
    results_heading,
    results_text,
    scheduled_heading,
    scheduled_summary,
    without_numbers_line,
)

CANCEL_ACTION = "postbot_cancel"
SLOT_ACTION = "postbot_slot"
CANCEL_PATTERN = re.compile(rf"^{CANCEL_ACTION}:\d+$")
SLOT_PATTERN = re.compile(rf"^{SLOT_ACTION}:\d+:\d+$")
MODAL_CALLBACK = "postbot_schedule_modal"
SHORTCUT_CALLBACK = "schedule_this_post"
# Slack's limits: 50 blocks a message, 25 elements an actions block, 10 fields a section,
# 75 characters a button label, 3000 a section text.
_MAX_BLOCKS = 50
_MAX_ELEMENTS = 25
_MAX_FIELDS = 10
Blocks = list[dict[str, Any]]


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {
        "type": "plain_text",
        "text": text if len(text) <= limit else text[: limit - 1] + "…",
        "emoji": True,
    }


def escape(text: str) -> str:
    """Slack's three control characters, so captions are shown, not interpreted. Block texts and a
    message's top-level ``text`` alike: "Slack uses &, <, and > as control characters for special
    parsing ... they must be converted to HTML entities if they're not going to be used for their
    parsing purpose" (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(text: str) -> tuple[str, Blocks]:
    """A plain message: its top-level ``text`` (what notifications and screen readers show) and its
    blocks, both escaped."""
    return escape(text), message_blocks(text)


# A channel as the core names it, ``<#C0123>`` (Slack's own syntax, and Discord's), once escaped.
_ESCAPED_CHANNEL = re.compile(r"&lt;#([CG][A-Z0-9]{2,})&gt;")


def notice(text: str) -> tuple[str, Blocks]:
    """A message of postbot's own (an alert, a DM about a digest): escaped like ``message``, except
    the channels the core names, which stay links ("<#C0123>" shows as #launch:
    https://api.slack.com/reference/surfaces/formatting#linking-channels). Only postbot's own
    texts are sent this way; a text quoting a caption or a platform's error goes through ``message``."""
    shown, layout = message(text)
    keep = r"<#\1>"
    for block in layout:
        block["text"]["text"] = _ESCAPED_CHANNEL.sub(keep, block["text"]["text"])
    return _ESCAPED_CHANNEL.sub(keep, shown), layout


def cancel_button(post: PostView, label: str = "Cancel") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": f"{CANCEL_ACTION}:{post.id}",
        "text": _plain(label),
        "style": "danger",
        "value": str(post.id),
    }


def slot_button(post: PostView, at: datetime) -> dict[str, Any]:
    stamp = int(at.timestamp())
    label = f"{post.platform.label}: {at.astimezone(ZoneInfo(post.tz)):%a %d %b %H:%M}"
    return {
        "type": "button",
        "action_id": f"{SLOT_ACTION}:{post.id}:{stamp}",
        "text": _plain(label),
        "value": f"{post.id}:{stamp}",
    }


def _clean(element: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in element.items() if v is not None}


def _actions(elements: list[dict[str, Any]], block_id: str) -> Blocks:
    return [
        {
            "type": "actions",
            "block_id": f"{block_id}_{i // _MAX_ELEMENTS}",
            "elements": [_clean(e) for e in elements[i : i + _MAX_ELEMENTS]],
        }
        for i in range(0, len(elements), _MAX_ELEMENTS)
    ]


def outcome_blocks(
    posts: list[PostView],
    notes: list[str],
    suggestions: dict[Platform, list[Slot]],
    now: datetime,
    *,
    duplicate: bool = False,
) -> tuple[str, Blocks]:
    """The scheduling reply: what goes where and when (in the author's zone), the suggested slots as
    buttons, and a Cancel button per post."""
    text = escape(namespaced(scheduled_summary(posts, now)))
    if not posts:
        return text, [{"type": "section", "text": _mrkdwn(text)}]
    first = posts[0]
    media = f" *{escape(first.media_name)}*" if first.media_name else ""
    head = scheduled_heading(posts, now, media, duplicate=duplicate)
    blocks: Blocks = [{"type": "section", "block_id": "summary", "text": _mrkdwn(f":calendar: {head}")}]
    fields = [
        _mrkdwn(
            f"*#{p.id} {p.platform.label}*\n{local_time(p.run_at, p.tz)} ({relative(p.run_at, now)})"
            + (f"\n{escape(settings)}" if (settings := options_text(p)) else ""),
            2000,
        )
        for p in posts
    ]
    for i in range(0, len(fields), _MAX_FIELDS):
        blocks.append(
            {
                "type": "section",
                "block_id": f"posts_{i // _MAX_FIELDS}",
                "fields": fields[i : i + _MAX_FIELDS],
            }
        )
    context = [f"Caption: {escape(first.caption)}"] if first.caption else []
    context += [escape(n) for n in notes if n]
    if context:
        blocks.append(
            {"type": "context", "block_id": "notes", "elements": [_mrkdwn(c, 2000) for c in context[:10]]}
        )
    slots = [
        slot_button(p, s.at)
        for p in posts
        for s in (suggestions.get(p.platform) or [])[:3]
        if s.at != p.run_at
    ]
    if slots:
        blocks.append(
            {"type": "section", "block_id": "slots_head", "text": _mrkdwn("Suggested slots (tap to move):")}
        )
        blocks += _actions(slots, "slots")
    several = len(posts) > 1
    cancels = [cancel_button(p, f"Cancel {p.platform.label}" if several else "Cancel") for p in posts]
    blocks += _actions(cancels, "cancel")
    return text, blocks[:_MAX_BLOCKS]


def _with_approver(escaped: str, post: PostView) -> str:
    """``escaped`` with the approval note's mention made a mention again (the note is postbot's own
    text; the rest stays escaped)."""
    if not post.approved_by:
        return escaped
    note = approved_note(post)
    return escaped.replace(escape(note), note)


def queue_blocks(posts: list[PostView], now: datetime) -> tuple[str, Blocks]:
    if not posts:
        return "The queue is empty.", [
            {"type": "section", "text": _mrkdwn("The queue for this channel is empty.")}
        ]
    shown = posts[: _MAX_BLOCKS - 2]
    blocks: Blocks = [{"type": "section", "text": _mrkdwn("*Upcoming posts in this channel*")}]
    for post in shown:
        block: dict[str, Any] = {
            "type": "section",
            "block_id": f"post_{post.id}",
            "text": _mrkdwn(_with_approver(escape(post_line(post, now)), post)),
        }
        if post.status == PostStatus.QUEUED:
            block["accessory"] = _clean(cancel_button(post))
        blocks.append(block)
    if len(posts) > len(shown):
        blocks.append({"type": "context", "elements": [_mrkdwn(f"…and {len(posts) - len(shown)} more.")]})
    text = "Upcoming posts:\n" + "\n".join(post_line(p, now) for p in posts)
    return escape(text), blocks


def suggestion_blocks(suggestions: dict[Platform, list[Slot]], tz: str) -> tuple[str, Blocks]:
    """/suggest: the best free slots per platform in the user's zone, each with its one-line reason."""
    if not suggestions:
        text = "No free slot was found in the coming week."
        return text, [{"type": "section", "text": _mrkdwn(text)}]
    lines = []
    layout: Blocks = [{"type": "section", "text": _mrkdwn(f"*Suggested times* ({escape(tz)})")}]
    for platform, slots in list(suggestions.items())[: _MAX_BLOCKS - 1]:
        rows = [f"• {local_time(slot.at, tz)}: {escape(slot.reason)}" for slot in slots]
        body = "\n".join(rows) or "no free slot this week"
        lines.append(f"{platform.label}:\n{body}")
        layout.append({"type": "section", "text": _mrkdwn(f"*{platform.label}*\n{body}")})
    # Each line is escaped already (the reasons are words, but never trusted to be).
    return "Suggested times:\n" + "\n".join(lines), layout


def _base_id(block: dict[str, Any]) -> str:
    return str(block.get("block_id") or "").split("~", 1)[0]


def _next_iteration(block_id: str) -> str:
    """A new block_id for an updated message: Slack asks for block_ids unique "for each message and
    each iteration of a message" (https://api.slack.com/reference/block-kit/blocks), or clients may
    keep showing the old block."""
    base, _, n = block_id.partition("~")
    return f"{base}~{int(n) + 1 if n.isdigit() else 1}"


def retire_buttons(blocks: Blocks, post_id: int, note: str, *, keep_cancel: bool) -> Blocks:
    """The message after a button on it did its job: that post's buttons gone (its Cancel kept when
    the post was only moved) and a line saying what happened."""
    cancel_id = f"{CANCEL_ACTION}:{post_id}"
    slot_prefix = f"{SLOT_ACTION}:{post_id}:"

    def gone(element: dict[str, Any]) -> bool:
        action_id = str(element.get("action_id", ""))
        return action_id.startswith(slot_prefix) or (action_id == cancel_id and not keep_cancel)

    out: Blocks = []
    for block in blocks:
        block = dict(block)
        if block.get("block_id"):
            block["block_id"] = _next_iteration(str(block["block_id"]))
        if block.get("type") == "actions":
            block["elements"] = [e for e in block.get("elements", []) if not gone(e)]
            if not block["elements"]:
                continue
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and gone(accessory):
            del block["accessory"]
        out.append(block)
    if not any(
        b.get("type") == "actions"
        and any(str(e.get("action_id", "")).startswith(SLOT_ACTION) for e in b["elements"])
        for b in out
    ):
        out = [b for b in out if _base_id(b) != "slots_head"]
    out.append({"type": "context", "elements": [_mrkdwn(note, 2000)]})
    return out[-_MAX_BLOCKS:]


def result_blocks(post: PostView) -> tuple[str, Blocks]:
    text = result_text(post)
    if post.status == PostStatus.PUBLISHED:
        link = post.remote_url or post.remote_id or ""
        shown = (
            f"<{link}|{post.platform.label}>" if link.startswith(("http://", "https://")) else escape(link)
        )
        body = f":white_check_mark: Published #{post.id} on {shown}"
        if post.approved_by:
            body += f" ({approved_note(post)})"
    else:
        body = f":x: {escape(text)}"
    return escape(text), [{"type": "section", "text": _mrkdwn(body)}]


def _link(url: str | None, label: str) -> str:
    """``<url|label>``, Slack's link; a URL it would misread (a control character in it) stays text."""
    if url and url.startswith(("http://", "https://")) and not any(c in url for c in "<>|"):
        return f"<{url}|{escape(label)}>"
    return escape(label)


def _best_line(rank: int, post: PostNumbers) -> str:
    head, _, rest = best_post_line(rank, post).partition(" ")
    number, _, numbers = rest.partition(" ")
    return f"{head} {_link(post.url, number)} {escape(numbers)}"


def platform_results_text(row: PlatformResults) -> str:
    """One platform's totals against the period before, then its best posts, each linked."""
    label, _, totals = platform_results_line(row).partition(": ")
    lines = [f"*{escape(label)}*: {escape(totals)}"]
    if row.without_numbers:
        lines.append(f"_{escape(without_numbers_line(row))}_")
    lines += [_best_line(rank, post) for rank, post in enumerate(row.best, 1)]
    return "\n".join(lines)


def results_blocks(report: ResultsReport) -> tuple[str, Blocks]:
    """`/postbot results`: a heading, a section per platform (totals and the best posts with their
    links), and what the numbers cover."""
    layout: Blocks = [{"type": "header", "text": _plain(f"Results, last {report.days} days", 150)}]
    if not report.platforms:
        layout.append({"type": "section", "text": _mrkdwn("Nothing was published in either period.")})
    for row in report.platforms[: _MAX_BLOCKS - 2]:
        layout.append({"type": "section", "text": _mrkdwn(platform_results_text(row))})
    note = (
        f"Against the {report.days} days before · posts from channels you are in, and your own · "
        f"{escape(report.tz)}"
    )
    layout.append({"type": "context", "elements": [_mrkdwn(note)]})
    return escape(results_text(report)), layout[:_MAX_BLOCKS]


def digest_comment(report: ResultsReport) -> str:
    """The weekly digest's message above its chart (``initial_comment``, mrkdwn like a message's text)."""
    lines = [f"*{escape(digest_heading(report))}*"]
    if not report.platforms:
        lines.append("Nothing was published from this channel in either week.")
    lines += [platform_results_text(row) for row in report.platforms]
    lines.append(f"_{escape(results_heading(report).split(' (', 1)[1].rstrip(')'))}_")
    return "\n".join(lines)


def context_line(text: str) -> dict[str, Any]:
    """A small grey line under a message (Block Kit's context block)."""
    return {"type": "context", "elements": [_mrkdwn(escape(text), 2000)]}


def message_blocks(text: str) -> Blocks:
    return [{"type": "section", "text": _mrkdwn(escape(text))}]


# views.open refuses private_metadata over 3,000 characters:
# https://api.slack.com/reference/surfaces/views (private_metadata)
PRIVATE_METADATA_MAX = 3000


def schedule_modal(
    video_name: str,
    caption: str,
    metadata: dict[str, Any],
    platforms: Sequence[PlatformInfo],
    linked: set[Platform] | None,
    *,
    zone: str | None = None,
) -> dict[str, Any]:
    """The "Schedule this post" modal: the time typed or picked (date and time pickers), platform
    checkboxes saying which are linked, the caption prefilled, and each linked platform's options
    (https://api.slack.com/reference/block-kit/block-elements#datepicker, #timepicker,
    #checkboxes, #static_select)."""
    name = escape(video_name)
    private = json.dumps(metadata, separators=(",", ":"))
    if len(private) > PRIVATE_METADATA_MAX:
        raise ValueError("the modal's private_metadata is over Slack's 3,000 characters")
    shown = list(platforms)
    layout: Blocks = [
        {"type": "section", "block_id": "video", "text": _mrkdwn(f":movie_camera: *{name}*")},
        {
            "type": "input",
            "block_id": "when",
            "optional": True,
            "label": _plain("When", 2000),
            "hint": _plain(
                "e.g. tomorrow 6pm, in 2 hours, friday 9am, or best for the suggested slot; "
                "or pick a day and a time below",
                2000,
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": "when_text",
                "placeholder": _plain("tomorrow 6pm", 150),
            },
        },
        {
            "type": "input",
            "block_id": "when_date",
            "optional": True,
            "label": _plain("Day", 2000),
            "element": {"type": "datepicker", "action_id": "date", "placeholder": _plain("Pick a day", 150)},
        },
        {
            "type": "input",
            "block_id": "when_time",
            "optional": True,
            "label": _plain(f"Time ({zone})" if zone else "Time (your time zone)", 2000),
            "hint": _plain("A day without a time takes that day's best slot.", 2000),
            # "timezone: The timezone to consider for this input value"
            # (https://docs.slack.dev/reference/block-kit/block-elements/time-picker-element): the zone
            # postbot reads the picked time in, so the picker and the reply agree.
            "element": _clean(
                {
                    "type": "timepicker",
                    "action_id": "time",
                    "placeholder": _plain("Pick a time", 150),
                    "timezone": zone,
                }
            ),
        },
        {
            "type": "input",
            "block_id": "platforms",
            "label": _plain("Where", 2000),
            "element": {
                "type": "checkboxes",
                "action_id": "platforms_selected",
                "options": [
                    {"text": _plain(p.label), "value": p.name, "description": _plain(_link_state(p, linked))}
                    for p in shown
                ][:10],
            },
        },
        {
            "type": "input",
            "block_id": "caption",
            "optional": True,
            "label": _plain("Caption", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": "caption_text",
                "multiline": True,
                "max_length": 3000,
                **({"initial_value": caption[:3000]} if caption else {}),
            },
        },
    ]
    for platform in shown:
        fields = [o for o in platform.options if o.kind != "image"]
        if not fields or (platform.linkable and linked is not None and platform.platform not in linked):
            continue
        layout.append(
            {"type": "context", "elements": [_mrkdwn(f"*{escape(platform.label)}* (used when ticked above)")]}
        )
        layout.extend(_option_input(platform, option) for option in fields)
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": _plain("Schedule this post", 24),
        "submit": _plain("Schedule", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": private,
        "blocks": layout[:MODAL_BLOCKS_MAX],
    }


# A modal holds at most 100 blocks (https://api.slack.com/reference/surfaces/views).
MODAL_BLOCKS_MAX = 100
OPTION_BLOCK = "opt:"


def _link_state(platform: PlatformInfo, linked: set[Platform] | None) -> str:
    if not platform.requires_account:
        return "needs no account"
    if linked is None:
        return "linking is not set up on this bot"
    if platform.platform in linked:
        return "linked"
    return f"not linked: an admin runs /{NAMESPACE} link {platform.name}"


def option_block_id(platform: str, flag: str) -> str:
    return f"{OPTION_BLOCK}{platform}-{flag}"


def _option_input(platform: PlatformInfo, option: OptionInfo) -> dict[str, Any]:
    label = _plain(f"{platform.label}: {option.label}", 2000)
    block: dict[str, Any] = {
        "type": "input",
        "block_id": option_block_id(platform.name, option.flag),
        "optional": True,
        "label": label,
        "hint": _plain(option.help, 2000),
    }
    if option.choices:
        choices = [{"text": _plain(text), "value": word} for word, text in option.choices][:100]
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": block["block_id"],
            "options": choices,
        }
        initial = next((c for c in choices if c["value"] == option.default), None)
        if initial is not None:
            element["initial_option"] = initial
        else:
            element["placeholder"] = _plain("Not set", 150)
    else:
        element = {"type": "plain_text_input", "action_id": block["block_id"], "max_length": 500}
        if option.default is not None:
            element["placeholder"] = _plain(f"default: {option.default}", 150)
    block["element"] = element
    return block


def modal_options(values: dict[str, Any], chosen: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The option fields of a submitted modal, for the ticked platforms only, as
    (``<platform>-<flag>``, value) pairs (a field left empty is not sent)."""
    found = []
    for block_id, actions in values.items():
        if not block_id.startswith(OPTION_BLOCK):
            continue
        name = block_id[len(OPTION_BLOCK) :]
        if name.split("-", 1)[0] not in chosen:
            continue
        # Each field's action_id is its block_id (unique in the view, as Slack asks of action ids).
        state = actions.get(block_id) or {}
        raw = (
            (state.get("selected_option") or {}).get("value")
            if "selected_option" in state
            else state.get("value")
        )
        if raw:
            found.append((name, str(raw)))
    return tuple(found)
