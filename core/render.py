"""Chat-agnostic wording of what postbot did. Adapters wrap it in Block Kit or embeds."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain import (
    AccountStatus,
    AccountView,
    ApprovalDelivery,
    ApprovalRule,
    ChatKind,
    DigestOutcome,
    PauseView,
    Platform,
    PlatformInfo,
    PlatformResults,
    PlatformSlots,
    PlatformStatus,
    PostNumbers,
    PostStatus,
    PostView,
    QuotaView,
    ResultsReport,
    ReviewOutcome,
    ScheduleView,
    Slot,
    StatusView,
    UnlinkOutcome,
)

# In Slack and Discord every command but the headline ones (/schedule, /post) is a subcommand of
# /postbot, so it collides with no other app's and with no built-in (Slack has its own /status);
# the console keeps the short forms. One list, read by both adapters, their help and the manifest test.
SUBCOMMANDS: tuple[str, ...] = (
    "queue",
    "cancel",
    "reschedule",
    "suggest",
    "accounts",
    "link",
    "unlink",
    "timezone",
    "status",
    "pause",
    "resume",
    "default",
    "slots",
    "results",
    "digest",
    "approval",
    "approve",
    "reject",
    "help",
)
# The ones only a server's admins may run. Discord sets who may see and use a command on top-level
# commands only, so there they form a second top-level command (adapters/discord/commands.py);
# Slack has no such setting and keeps them under /postbot, refused at run time as on Discord.
ADMIN_SUBCOMMANDS: tuple[str, ...] = (
    "link",
    "unlink",
    "status",
    "pause",
    "resume",
    "default",
    "digest",
    "approval",
)
NAMESPACE = "postbot"
_SHORT_COMMAND = re.compile(r"(?<![\w/.:-])/(" + "|".join(SUBCOMMANDS) + r")\b")


def namespaced(text: str, *, admin: str | None = None) -> str:
    """The core's messages name commands as the console types them (``/cancel 12``, ``/link
    youtube``); in a chat where they live under /postbot they read ``/postbot cancel 12``, and
    under ``admin`` for the admin ones when the chat has a command of their own for them."""

    def name(match: re.Match[str]) -> str:
        sub = match[1]
        return f"/{admin if admin and sub in ADMIN_SUBCOMMANDS else NAMESPACE} {sub}"

    return _SHORT_COMMAND.sub(name, text)


def platform_words(infos: Sequence[PlatformInfo], *, last: str = ",") -> str:
    """``youtube (yt), instagram (ig), …, sandbox`` for help texts; ``last="or"`` joins the final two."""
    words = [info.short for info in infos]
    if last == "," or len(words) < 2:
        return ", ".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def linkable_names(infos: Sequence[PlatformInfo]) -> str:
    """``youtube, instagram, x, linkedin, tiktok``: the platforms an admin links an account for."""
    return ", ".join(info.name for info in infos if info.linkable)


def platform_example(infos: Sequence[PlatformInfo]) -> str:
    """``youtube,instagram``: two platforms as a command example names them."""
    return ",".join([info.name for info in infos if info.linkable][:2])


# Examples in help texts and hints are built from the registry, like every list of platforms, so a
# new platform never makes one wrong and no module outside its package names it
# (tests/test_platform_registry.py). They show the first platforms an admin links.


def example_platform(infos: Sequence[PlatformInfo]) -> str:
    """``youtube``: the one platform a command example names."""
    return next((info.name for info in infos if info.linkable), infos[0].name)


def short_example(infos: Sequence[PlatformInfo], *, option: bool = False) -> str:
    """``yt,ig``: the two platforms of ``platform_example`` by their short names; with ``option``,
    the first carries a value of its short option (``yt:unlisted,ig``) when it has one."""
    picked = [info for info in infos if info.linkable][:2]
    words = [min(info.aliases, key=len) for info in picked]
    value = _short_value(picked[0]) if option and picked else None
    if value is not None:
        words[0] = f"{words[0]}:{value}"
    return ",".join(words)


def _short_value(info: PlatformInfo) -> str | None:
    # The second choice: the first is mostly the platform's default, not worth typing.
    option = info.option(info.short_option) if info.short_option else None
    if option is None or not option.choices:
        return None
    return option.choices[min(1, len(option.choices) - 1)][0]


def account_example(infos: Sequence[PlatformInfo]) -> str:
    """``youtube@brand``: an account named in a command."""
    return f"{example_platform(infos)}@brand"


def short_option_examples(infos: Sequence[PlatformInfo], *, most: int = 3) -> str:
    """``youtube:unlisted, linkedin:connections, tiktok:friends``: a value of each short option."""
    found = [f"{info.name}:{value}" for info in infos if (value := _short_value(info)) is not None]
    return ", ".join(found[:most])


def no_account_platform(infos: Sequence[PlatformInfo]) -> str | None:
    """``sandbox``: a platform that needs no linked account (to try postbot with), if any."""
    return next((info.name for info in infos if not info.requires_account), None)


def _registry_infos() -> Sequence[PlatformInfo]:
    from core.platforms.registry import infos

    return infos()


def linkable_labels(infos: Sequence[PlatformInfo]) -> str:
    """``YouTube, Instagram, X, LinkedIn and TikTok``."""
    labels = [info.label for info in infos if info.linkable]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def local_time(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(ZoneInfo(tz)):%a %d %b %Y, %H:%M} {tz}"


def relative(instant: datetime, now: datetime) -> str:
    seconds = round((instant - now).total_seconds())
    if seconds < 0:
        return "overdue"
    if seconds < 90:
        return f"in {seconds}s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"in {minutes} min"
    hours = seconds / 3600
    if hours < 36:
        return f"in {hours:.0f} h"
    return f"in {hours / 24:.0f} days"


def options_text(post: PostView) -> str:
    """``@brand, privacy unlisted, tags launch,demo``: the account when one was picked, and the
    options that differ from what the platform does by default (empty: nothing to say)."""
    from core.platforms.chosen import describe

    parts = [f"@{post.account.lstrip('@')}"] if post.account else []
    described = describe(post.platform, post.options)
    return ", ".join([*parts, described] if described else parts)


def post_line(post: PostView, now: datetime) -> str:
    when = local_time(post.run_at, post.tz)
    caption = post.caption if len(post.caption) <= 60 else post.caption[:57] + "..."
    base = f"#{post.id} {post.platform.label} · {when}"
    if post.paused:
        base += f" ({relative(post.run_at, now)}) · paused"
    elif post.status == PostStatus.QUEUED:
        base += f" ({relative(post.run_at, now)})"
        if post.approved_by:
            base += f" · {approved_note(post)}"
    elif post.status == PostStatus.AWAITING:
        base += f" ({relative(post.run_at, now)}) · awaiting approval"
    else:
        base += f" · {post.status.value}"
    if settings := options_text(post):
        base += f" · {settings}"
    if caption:
        base += f" · “{caption}”"
    return base


def scheduled_heading(
    posts: list[PostView], now: datetime, media: str = "", *, duplicate: bool = False
) -> str:
    """The short line over a scheduling reply (Slack's summary block, Discord's embed title): it says
    what scheduled_summary's text says, so a /post is "Publishing … now", not "Scheduled", and a
    paused platform is named as waiting. ``media`` comes formatted for the chat (Slack bolds it)."""
    platforms = ", ".join(p.platform.label for p in posts)
    if duplicate:
        return f"Already scheduled{media} for {platforms}"
    if posts[0].status is PostStatus.AWAITING:
        return f"Awaiting approval{media} for {platforms}"
    if posts[0].run_at > now:
        return f"Scheduled{media} for {platforms}"
    going = [p.platform.label for p in posts if not p.paused]
    held = [p.platform.label for p in posts if p.paused]
    if not going:
        return f"Queued{media} for {platforms} · publishing is paused"
    head = f"Publishing{media} to {', '.join(going)} now"
    return head + (f" · paused for {', '.join(held)}" if held else "")


def scheduled_summary(posts: list[PostView], now: datetime) -> str:
    if not posts:
        return "Nothing was queued."
    first = posts[0]
    platforms = ", ".join(p.platform.label for p in posts)
    media = f" {first.media_name}" if first.media_name else ""
    held = [p.platform.label for p in posts if p.paused]
    if first.status is PostStatus.AWAITING:
        when = (
            "as soon as it is approved"
            if first.run_at <= now
            else f"at {local_time(first.run_at, first.tz)} ({relative(first.run_at, now)}) once approved"
        )
        head = f"Awaiting approval: {media.strip() or 'the video'} for {platforms}, to go out {when}."
    elif first.run_at <= now:
        # /post: due at once. Saying "Scheduled … (in 0s)" left people wondering when it would go.
        going = [p.platform.label for p in posts if not p.paused]
        head = f"Publishing{media} to {', '.join(going)} now." if going else f"Queued{media} for {platforms}."
    elif len({p.run_at for p in posts}) > 1:
        # Placed in each platform's own next free slot (/schedule next): each at its time.
        each = "; ".join(
            f"{p.platform.label} at {local_time(p.run_at, p.tz)} ({relative(p.run_at, now)})" for p in posts
        )
        head = f"Scheduled{media}: {each}."
    else:
        when = f"{local_time(first.run_at, first.tz)} ({relative(first.run_at, now)})"
        head = f"Scheduled{media} for {platforms} at {when}."
    if held:
        head += (
            f" Publishing is paused for {', '.join(held)}: "
            f"{'it waits' if len(held) == 1 else 'they wait'} until /resume."
        )
    ids = ", ".join(
        f"#{p.id} {p.platform.label}" + (f" ({settings})" if (settings := options_text(p)) else "")
        for p in posts
    )
    return f"{head}\nPosts: {ids}. Cancel with /cancel <id>."


def result_text(post: PostView) -> str:
    if post.status == PostStatus.PUBLISHED:
        link = post.remote_url or post.remote_id or ""
        text = f"Published #{post.id} on {post.platform.label}: {link}".rstrip()
        if post.approved_by:
            text += f" ({approved_note(post)})"
        note = post.extra.get("note")
        return f"{text}\n{note}" if note else text
    reason = post.last_error or "unknown error"
    return f"#{post.id} on {post.platform.label} failed after {post.attempts} attempt(s): {reason}"


def failure_dm_text(post: PostView) -> str:
    if post.status in (PostStatus.REJECTED, PostStatus.AWAITING):
        return review_news_text(post)
    lines = [
        f"Your post #{post.id} to {post.platform.label} could not be published.",
        f"Reason: {post.last_error or 'unknown error'}",
    ]
    hint = post.extra.get("hint")
    if hint:
        lines.append(f"What to do: {hint}")
    else:
        lines.append("What to do: fix the problem, then schedule it again with /schedule.")
    return "\n".join(lines)


def queue_text(posts: list[PostView], now: datetime) -> str:
    if not posts:
        return "The queue is empty."
    return "Upcoming posts:\n" + "\n".join(post_line(p, now) for p in posts)


def suggestions_text(suggestions: dict[Platform, list[Slot]], tz: str) -> str:
    """One line per suggested slot: where, when in the reader's zone, and why."""
    lines = [
        f"{platform.label}: {local_time(slot.at, tz)} · {slot.reason}"
        for platform, slots in suggestions.items()
        for slot in slots
    ]
    return "\n".join(lines)


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "no expiry"
    delta = moment - now
    seconds = delta.total_seconds()
    if seconds <= 0:
        return "expired"
    if seconds < 3600:
        return f"in {int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"in {int(seconds // 3600)} h"
    return f"in {delta.days} days"


def accounts_text(
    views: list[AccountView],
    *,
    now: datetime | None = None,
    place: str = "this channel",
    default_command: str = "/postbot default",
) -> str:
    """``place`` and ``default_command``: where a default account applies and the command that sets
    it, as this chat names them (the console has no channels and no /postbot)."""
    if not views:
        first, *others = linkable_names(_registry_infos()).split(", ")
        return (
            f"No accounts are linked yet. An admin can link one with /link {first} (or {', '.join(others)})."
        )

    current = now or datetime.now(UTC)
    lines = ["Linked accounts:"]
    for v in views:
        name = v.display_name or v.remote_account_id
        if v.status is AccountStatus.ACTIVE and not v.renewable:
            health = (
                f"ok; expires {_when(v.token_expires_at, current)} and can't be renewed without a new "
                f"link: an admin runs /link {v.platform.value} before then (reminders come 7 days and "
                "1 day ahead)"
            )
        elif v.status is AccountStatus.ACTIVE:
            health = (
                f"ok, token renews automatically (access token expires {_when(v.token_expires_at, current)}"
            )
            if v.refresh_expires_at is not None:
                health += f"; re-link needed {_when(v.refresh_expires_at, current)}"
            health += ")"
        else:
            health = f"{v.status.value}: {v.last_error or 'needs re-linking'}"
        several = sum(1 for o in views if o.platform is v.platform) > 1
        mark = f" (default here: {v.platform.value}@{v.handle})" if several and v.default_here else ""
        lines.append(f"• {v.platform.label}: {name}{mark} — {health}")
        if v.status is AccountStatus.ACTIVE and v.last_error:
            lines.append(f"  last error: {v.last_error}")
    shared = next((v for v in views if sum(1 for o in views if o.platform is v.platform) > 1), None)
    if shared is not None:
        lines.append(
            f"Name the account in a command with platform@handle ({shared.platform.value}@{shared.handle}); "
            f"an admin sets {place}'s default with {default_command} <platform>@<handle>."
        )
    return "\n".join(lines)


def default_text(view: AccountView, *, place: str = "this channel") -> str:
    return (
        f"{view.platform.label} posts from {place} now go to {view.platform.value}@{view.handle} "
        f"unless a command names another account."
    )


def unlink_text(outcome: UnlinkOutcome) -> str:
    names = ", ".join(outcome.names)
    text = f"Unlinked {outcome.platform.label} ({names}); its tokens are deleted."
    if outcome.revoked_at_provider:
        text += f" Access was revoked at {outcome.platform.label} too."
    elif outcome.note:
        text += f" {outcome.note}"
    return text


def _paused_names(paused: frozenset[Platform] | None) -> str:
    if paused is None:
        return "all platforms"
    return ", ".join(p.label for p in sorted(paused, key=lambda p: p.value)) or "nothing"


def pause_text(view: PauseView) -> str:
    what = view.named.label if view.named is not None else "all platforms"
    head = f"Publishing to {what} is paused." if view.changed else f"Publishing to {what} was already paused."
    held = f" {view.held_due} due post(s) are waiting." if view.held_due else ""
    return f"{head}{held} Due posts stay queued (not failed) until /resume."


def resume_text(view: PauseView) -> str:
    what = view.named.label if view.named is not None else "all platforms"
    if not view.changed:
        return f"Publishing to {what} was not paused."
    still = "" if view.paused == frozenset() else f" Still paused: {_paused_names(view.paused)}."
    started = f" {view.held_due} due post(s) start now." if view.held_due else ""
    return f"Publishing to {what} resumed.{started}{still}"


def platform_status_line(row: PlatformStatus, tz: str, now: datetime) -> str:
    parts = [f"{row.queued} queued", f"{row.running} in flight"]
    if row.awaiting:
        parts.append(f"{row.awaiting} awaiting approval")
    if row.next_due is not None:
        parts.append(f"next {local_time(row.next_due, tz)} ({relative(row.next_due, now)})")
    rate = row.success_rate_24h
    done = row.published_24h + row.failed_24h
    parts.append(f"24 h: {rate:.0%} of {done} succeeded" if rate is not None else "24 h: nothing finished")
    if row.breaker is not None:
        parts.append(f"breaker {row.breaker}")
    if row.paused:
        parts.append("PAUSED")
    return f"{row.platform.label}: " + " · ".join(parts)


def status_text(view: StatusView, now: datetime) -> str:
    lines = ["postbot status"]
    if view.paused is None:
        lines.append("Publishing is paused for all platforms (/resume to start it again).")
    lines.append(workers_line(view))
    lines += [quota_line(q) for q in view.quotas]
    lines += [platform_status_line(row, view.tz, now) for row in view.platforms]
    if not view.platforms:
        lines.append("Nothing queued, running or finished in the last 24 h.")
    if view.last_errors:
        lines.append("Last errors:")
        shown: Platform | None = None
        for post in view.last_errors:
            if post.platform is not shown:
                shown = post.platform
                lines.append(f"  {post.platform.label}:")
            when = local_time(post.run_at, post.tz)
            lines.append(f"    #{post.id} {post.platform.label} ({when}): {post.last_error or 'failed'}")
    return "\n".join(lines)


def workers_line(view: StatusView) -> str:
    if not view.workers:
        return (
            f"Workers: none seen in the last {view.workers_within_s:g} s, so nothing is publishing "
            "(start `postbot worker`, or a bot process with its scheduler)."
        )
    busy = sum(w.in_flight for w in view.workers)
    names = ", ".join(f"{w.worker_id} ({w.seen_s_ago:g} s ago)" for w in view.workers[:5])
    more = f" and {len(view.workers) - 5} more" if len(view.workers) > 5 else ""
    return f"Workers: {len(view.workers)} alive, {busy} post(s) in flight: {names}{more}"


def quota_line(quota: QuotaView) -> str:
    share = quota.used / quota.limit if quota.limit else 0
    return (
        f"{quota.platform.label} quota today: {quota.used:,} of {quota.limit:,} {quota.unit} "
        f"({share:.0%}; resets at {quota.resets}, shared by every team of this postbot)"
    )


def _change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "="
    pct = round((now - before) * 100 / before)
    return f"{pct:+d}%"


def results_text(report: ResultsReport) -> str:
    """`/results`: one line per platform (totals, change against the period before), then its best
    posts with their links."""
    head = results_heading(report)
    if not report.platforms:
        return f"{head}: nothing published in either period."
    lines = [head + ":"]
    for row in report.platforms:
        lines.append(platform_results_line(row))
        if row.without_numbers:
            lines.append(f"  {without_numbers_line(row)}")
        for rank, post in enumerate(row.best, 1):
            lines.append(f"  {best_post_line(rank, post)}" + (f" {post.url}" if post.url else ""))
    return "\n".join(lines)


def results_heading(report: ResultsReport) -> str:
    return f"Results, last {report.days} days (against the {report.days} days before)"


def platform_results_line(row: PlatformResults) -> str:
    """ "YouTube: 2 posts (+100%) · 1,504 views (+100%) · …" """
    return (
        f"{row.platform.label}: {row.posts} post{'s' if row.posts != 1 else ''} "
        f"({_change(row.posts, row.previous_posts)}) · "
        f"{row.views:,} views ({_change(row.views, row.previous_views)}) · "
        f"{row.likes:,} likes ({_change(row.likes, row.previous_likes)}) · "
        f"{row.comments:,} comments ({_change(row.comments, row.previous_comments)})"
    )


def best_post_line(rank: int, post: PostNumbers) -> str:
    """ "1. #12 1,204 views · 87 likes · 12 comments" (the link is the chat's to add)."""
    views = f"{post.views:,} views" if post.views is not None else "views n/a"
    return f"{rank}. #{post.post_id} {views} · {post.likes or 0:,} likes · {post.comments or 0:,} comments"


def without_numbers_line(row: PlatformResults) -> str:
    return f"{row.without_numbers} without numbers yet (or not available from {row.platform.label})"


def digest_heading(report: ResultsReport) -> str:
    """ "Weekly results, 30 Nov to 6 Dec (Europe/Berlin)": the days the digest covers."""
    zone = ZoneInfo(report.tz)
    last = (report.until - timedelta(microseconds=1)).astimezone(zone)
    first = (report.until - timedelta(days=report.days)).astimezone(zone)
    return f"Weekly results, {first:%-d %b} to {last:%-d %b} ({report.tz})"


def digest_text(report: ResultsReport) -> str:
    """The weekly digest as plain text: the heading, then the /results lines."""
    body = results_text(report).split("\n", 1)
    rest = body[1] if len(body) > 1 else "Nothing was published from this channel in either week."
    return f"{digest_heading(report)}\n{rest}"


def digest_setting_text(outcome: DigestOutcome) -> str:
    """The answer to /digest: what is set for this channel now."""
    view, changed = outcome.view, outcome.changed
    if view is None:
        return (
            "The weekly results digest is off for this channel."
            if changed
            else (
                "This channel has no weekly results digest. An admin sets one with /digest <day> <HH:MM>, "
                "e.g. /digest monday 09:00."
            )
        )
    head = "Weekly results digest set" if changed else "Weekly results digest"
    text = (
        f"{head}: {view.when} ({view.tz}), here, with a chart of the week's views. "
        "It covers the posts scheduled from this channel. /digest off stops it."
    )
    if view.failed_at is not None and view.failure:
        due = view.failed_at.astimezone(ZoneInfo(view.tz))
        text += f"\nThe last one, due {due:%A %-d %b at %H:%M}, didn't go out: {view.failure}"
    return text


DIGEST_ELSEWHERE = "set the digest in another channel with /digest <day> <HH:MM> there"


def digest_failure_text(what: str, fix: str) -> str:
    """Why a digest did not go out and what mends it, as /digest shows it: "postbot is no longer a
    member of the channel. Invite @postbot back (…)."."""
    return f"{what}. {fix}." if fix else f"{what}."


def digest_unreachable_text(channel_id: str, due: datetime, what: str, fix: str) -> str:
    """The one message that tells an admin a digest's channel became unreachable: which channel
    (``<#id>``, a channel link in Slack and Discord alike), what happened, the fix in the chat's
    words (the adapter's), and that it is said once, not every week."""
    mend = (
        f"{fix}, or {DIGEST_ELSEWHERE}." if fix else f"{DIGEST_ELSEWHERE[0].upper()}{DIGEST_ELSEWHERE[1:]}."
    )
    return (
        f"⚠️ The weekly results digest for <#{channel_id}> didn't go out "
        f"({due:%A %-d %b at %H:%M}): {what}. {mend} "
        "It stays set and is tried each week; I'll only message you about it again if it breaks "
        "again after a digest goes out or after it is set again."
    )


def checkpoint_label(seconds: int) -> str:
    """3600 → "1 h", 86400 → "24 h", 604800 → "7 d"."""
    hours = seconds / 3600
    if hours <= 48:
        return f"{hours:g} h"
    return f"{hours / 24:g} d"


def readings_text(platform_label: str, readings: list[tuple[int, int | None, int | None, int | None]]) -> str:
    """The post's thread reply as its results come in: one line per checkpoint read."""
    lines = [f"Results on {platform_label}:"]
    for checkpoint, views, likes, comments in readings:
        if views is None and likes is None and comments is None:
            lines.append(f"{checkpoint_label(checkpoint)}: no numbers from {platform_label}")
            continue
        parts = []
        for value, word in ((views, "views"), (likes, "likes"), (comments, "comments")):
            if value is not None:
                parts.append(f"{value:,} {word[:-1] if value == 1 else word}")
        lines.append(f"{checkpoint_label(checkpoint)}: {' · '.join(parts)}")
    return "\n".join(lines)


# -- approval -----------------------------------------------------------------------------------------


def person(chat: ChatKind, user_id: str) -> str:
    """A user as a chat shows one: a mention in Slack and Discord, the name at the console."""
    return user_id if chat is ChatKind.CONSOLE else f"<@{user_id}>"


def approved_note(post: PostView) -> str:
    """``approved by @ana, Fri 05 Dec 2026, 17:02 Europe/Berlin``."""
    who = person(post.chat, post.approved_by or "?")
    when = f", {local_time(post.approved_at, post.tz)}" if post.approved_at else ""
    return f"approved by {who}{when}"


def approvers_text(rule: ApprovalRule, chat: ChatKind) -> str:
    if not rule.approvers:
        return "the admins"
    return ", ".join(a.mention(chat) for a in rule.approvers)


def approval_rule_text(rule: ApprovalRule | None, chat: ChatKind) -> str:
    """What /approval says: on or off here, who approves and where they are asked."""
    if rule is None:
        # Turning it off approves nothing: a post already waiting still needs an approver's yes.
        return (
            "Approval is off in this channel: new posts go out at their time; any already awaiting "
            "approval still wait for /approve (or /cancel). Turn it on with /approval on."
        )
    if chat is ChatKind.CONSOLE:
        # The console has no threads, direct messages or reactions: approvers type the command.
        how = "they approve with /approve <id>"
    else:
        where = (
            "by direct message"
            if rule.delivery is ApprovalDelivery.DM
            else "in the thread of the scheduling answer"
        )
        how = f"asked {where}; a ✅ on the scheduling answer approves too"
    return (
        f"Approval is on in this channel: posts from anyone else wait for {approvers_text(rule, chat)} "
        f"to approve them ({how}). Turn it off with /approval off."
    )


def awaiting_note(rule: ApprovalRule, chat: ChatKind) -> str:
    """The line under a scheduling answer whose posts wait."""
    how = "/approve <id>" if chat is ChatKind.CONSOLE else "a ✅ on this message approves it"
    return f"Awaiting approval from {approvers_text(rule, chat)}: nothing goes out before ({how})."


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "length unknown"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def approval_request_lines(posts: list[PostView], when: str) -> list[str]:
    """The body of a request to approvers, one block of lines per post: caption per platform,
    account and options. ``when`` is the time as the chat shows it in each reader's zone."""
    first = posts[0]
    lines = [
        f"Approval needed: {first.media_name or 'a video'} ({duration_text(first.media_duration_s)}) "
        f"from {person(first.chat, first.author_id)}, to go out {when}."
    ]
    for post in posts:
        caption = post.caption if len(post.caption) <= 300 else post.caption[:297] + "..."
        settings = options_text(post)
        head = f"#{post.id} {post.platform.label}" + (f" ({settings})" if settings else "")
        lines.append(f"{head}: “{caption}”" if caption else f"{head}: no caption")
    return lines


def review_text(outcome: ReviewOutcome, verb: str = "Approved") -> str:
    """The answer to an approve or a reject: what changed, what someone else had decided, and what
    is past its time (publish now or a new time)."""
    lines = []
    if outcome.done:
        ids = ", ".join(f"#{p.id} {p.platform.label}" for p in outcome.done)
        first = outcome.done[0]
        if verb == "Approved":
            lines.append(f"Approved {ids}: it goes out {local_time(first.run_at, first.tz)}.")
        else:
            why = f" Reason: {first.review_note}" if first.review_note else ""
            lines.append(f"Rejected {ids}; the author is told.{why}")
    for post in outcome.already:
        lines.append(
            f"#{post.id} {post.platform.label} is not awaiting approval (it is {already_state(post)})."
        )
    for post in outcome.stale:
        lines.append(stale_text(post))
    for post in outcome.overdue:
        lines.append(
            f"#{post.id} {post.platform.label} was due {local_time(post.run_at, post.tz)}, which has "
            "passed: publish it now, or approve it at a new time (/approve <id> now, /approve <id> <when>)."
        )
    return "\n".join(lines) or "Nothing to approve."


def stale_text(post: PostView) -> str:
    return (
        f"This request is out of date: #{post.id} {post.platform.label} changed since (new time "
        f"{local_time(post.run_at, post.tz)}). Use the newest request."
    )


def closed_request_note(
    posts: Sequence[PostView],
    when: Callable[[datetime], str],
    quote: Callable[[str], str] = lambda text: text,
) -> str:
    """What a request message says once none of its posts awaits approval: per post, who approved
    or rejected it (and why), or why it waits no more. ``when`` writes a moment the chat's way (each
    reader's zone); ``quote`` makes what a person wrote (a reason) safe for the chat."""
    lines = []
    for post in posts:
        head = f"#{post.id} {post.platform.label}"
        if post.rejected_by and post.status is PostStatus.REJECTED:
            reason = f": {quote(post.review_note)}" if post.review_note else "."
            lines.append(f"⛔ {head} rejected by {person(post.chat, post.rejected_by)}{reason}")
        elif post.approved_by and post.status is not PostStatus.CANCELLED:
            at = f" at {when(post.approved_at)}" if post.approved_at else ""
            lines.append(f"✅ {head} approved by {person(post.chat, post.approved_by)}{at}.")
        else:
            lines.append(f"No longer waiting: {head} is {post.status.value}.")
    return "\n".join(lines)


def already_state(post: PostView) -> str:
    if post.status is PostStatus.QUEUED and post.approved_by:
        return approved_note(post)
    if post.status is PostStatus.REJECTED and post.rejected_by:
        return f"rejected by {person(post.chat, post.rejected_by)}"
    return post.status.value


def review_news_text(post: PostView) -> str:
    """What the author hears: a rejection with its reason, or that no one approved in time."""
    if post.status is PostStatus.REJECTED:
        who = person(post.chat, post.rejected_by) if post.rejected_by else "an approver"
        reason = post.review_note or "no reason given"
        return (
            f"Your post #{post.id} to {post.platform.label} was rejected by {who}.\nReason: {reason}\n"
            "What to do: change it and schedule it again with /schedule."
        )
    return (
        f"Your post #{post.id} to {post.platform.label} was not approved by its time "
        f"({local_time(post.run_at, post.tz)}), so it has not gone out.\n"
        "Reason: no approver approved it in time.\n"
        "What to do: ask an approver; once approved it can go out at once or at a new time "
        "(or /cancel it)."
    )


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekly_text(weekly: Sequence[tuple[int, int]]) -> str:
    """ "Mon, Wed, Fri 18:00; Sat 10:00": the days that share a time, time by time."""
    by_time: dict[int, list[int]] = {}
    for weekday, minute in sorted(weekly, key=lambda s: (s[1], s[0])):
        by_time.setdefault(minute, []).append(weekday)
    parts = []
    for minute, days in by_time.items():
        named = "every day" if len(days) == 7 else ", ".join(_DAYS[d] for d in days)
        parts.append(f"{named} {minute // 60:02d}:{minute % 60:02d}")
    return "; ".join(parts)


def slot_time(instant: datetime, tz: str) -> str:
    """ "Mon 7 Dec 18:00": a slot in the schedule's zone, which the line around it names once."""
    local = instant.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M}"


def next_free_text(row: PlatformSlots, tz: str) -> str:
    """ "next free: Mon 7 Dec, 18:00 · Wed 9 Dec, 18:00" (the team's zone)."""
    if not row.next_free:
        return "no free slot ahead"
    return "next free: " + ", ".join(slot_time(at, tz) for at in row.next_free)


def schedule_text(view: ScheduleView) -> str:
    """`/slots`: what changed, then each platform's weekly slots and its next free ones."""
    lines = [view.changed] if view.changed else []
    if not view.platforms:
        one = example_platform(_registry_infos())
        lines.append(
            "This channel has no posting schedule. An admin can add one, e.g. "
            f"/slots add mon,wed,fri 18:00 {one}; then /schedule next {one} … takes the "
            "next free slot."
        )
        return "\n".join(lines)
    lines.append(f"Posting schedule of this channel ({view.tz}):")
    for row in view.platforms:
        lines.append(f"• {row.platform.label}: {weekly_text(row.weekly)} · {next_free_text(row, view.tz)}")
    return "\n".join(lines)


def free_slots_line(view: ScheduleView) -> str | None:
    """One line for /queue, /status and the Home tab: each platform's next free slot, or None
    without a schedule."""
    if not view.platforms:
        return None
    parts = [
        f"{row.platform.label} {slot_time(row.next_free[0], view.tz)}"
        if row.next_free
        else f"{row.platform.label} none ahead"
        for row in view.platforms
    ]
    return f"Next free slots ({view.tz}): " + " · ".join(parts)


# How a batch's line starts for a video already queued or published from the channel (batches.py).
ALREADY = "already scheduled"


def already_scheduled(posts: Sequence[PostView]) -> str:
    """The earlier posts of a video, each with its id and time in the reader's zone."""
    each = ", ".join(f"#{p.id} {p.platform.label} {local_time(p.run_at, p.tz)}" for p in posts)
    return f"{ALREADY}: {each}"


def batch_text(
    items: Sequence[tuple[str, Sequence[PostView] | None, str | None, Sequence[str]]],
    now: datetime,
    *,
    duplicate: bool = False,
) -> str:
    """Several videos scheduled with one command (``(name, posts, problem, notes)`` per video, in
    order): where each went, each refused one with its reason, and what DST did to a slot."""
    done = [posts for _, posts, _, _ in items if posts]
    head = (
        "Already scheduled (nothing new was queued):"
        if duplicate
        else f"Scheduled {len(done)} of {len(items)} videos:"
    )
    lines = [head]
    for n, (name, posts, problem, notes) in enumerate(items, 1):
        if posts:
            each = ", ".join(f"#{p.id} {p.platform.label} {local_time(p.run_at, p.tz)}" for p in posts)
            lines.append(f"{n}. {name}: {each}")
            if posts[0].status is PostStatus.AWAITING:
                lines.append("   Awaiting approval: it goes out once an approver approves it.")
            lines += [f"   Note: {note}" for note in notes]
        elif problem and problem.startswith(ALREADY):
            # Nothing is posted twice: the earlier post stands, and its id says what to /cancel.
            lines.append(f"{n}. {name}: {problem}")
        else:
            lines.append(f"{n}. {name}: not queued. {problem or ''}".rstrip())
    if done or any(problem and problem.startswith(ALREADY) for _, _, problem, _ in items):
        lines.append("Cancel one with /cancel <id>.")
    return "\n".join(lines)
