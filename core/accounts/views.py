"""What /link says: the DM with the link and the acknowledgement in the channel. The wording of
/accounts and /unlink is in core/render.py with the rest of what adapters show."""

from __future__ import annotations

from core.accounts.linking import STATE_TTL
from core.domain import Platform


def link_dm_text(platform: Platform, url: str) -> str:
    minutes = int(STATE_TTL.total_seconds() // 60)
    return (
        f"Link the team's {platform.label} account: {url}\n"
        f"The link works once and expires in {minutes} minutes. Don't share it."
    )


def link_ack_text(platform: Platform) -> str:
    return f"I've sent you a direct message with a link to connect {platform.label}."
