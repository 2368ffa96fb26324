"""Chat-agnostic text for /link, /accounts and /unlink; adapters wrap it in blocks or embeds."""

from __future__ import annotations

from datetime import UTC, datetime

from core.accounts.linking import STATE_TTL, AccountView, UnlinkOutcome
from core.domain import AccountStatus, Platform


def link_dm_text(platform: Platform, url: str) -> str:
    minutes = int(STATE_TTL.total_seconds() // 60)
    return (
        f"Link the team's {platform.label} account: {url}\n"
        f"The link works once and expires in {minutes} minutes. Don't share it."
    )


def link_ack_text(platform: Platform) -> str:
    return f"I've sent you a direct message with a link to connect {platform.label}."


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


def accounts_text(views: list[AccountView], *, now: datetime | None = None) -> str:
    if not views:
        return (
            "No accounts are linked yet. "
            "An admin can link one with /link youtube (or instagram, x, linkedin, tiktok)."
        )
    current = now or datetime.now(UTC)
    lines = ["Linked accounts:"]
    for v in views:
        name = v.display_name or v.remote_account_id
        if v.status is AccountStatus.ACTIVE:
            health = (
                f"ok, token renews automatically (access token expires {_when(v.token_expires_at, current)}"
            )
            if v.refresh_expires_at is not None:
                health += f"; re-link needed {_when(v.refresh_expires_at, current)}"
            health += ")"
        else:
            health = f"{v.status.value}: {v.last_error or 'needs re-linking'}"
        lines.append(f"• {v.platform.label}: {name} — {health}")
        if v.status is AccountStatus.ACTIVE and v.last_error:
            lines.append(f"  last error: {v.last_error}")
    return "\n".join(lines)


def unlink_text(outcome: UnlinkOutcome) -> str:
    names = ", ".join(outcome.names)
    text = f"Unlinked {outcome.platform.label} ({names}); its tokens are deleted."
    if outcome.revoked_at_provider:
        text += f" Access was revoked at {outcome.platform.label} too."
    elif outcome.note:
        text += f" {outcome.note}"
    return text
