"""Values the OAuth clients hand back. Token-carrying types keep tokens out of repr."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scope: str | None = None
    # Some token responses name the account (TikTok's open_id, Instagram's user_id).
    account_hint: str | None = None


@dataclass(frozen=True)
class Profile:
    """The linked account as postbot names it: the id publishers use and a name for people."""

    account_id: str
    display_name: str
    # "@handle" where the platform has handles, otherwise the display name.
    handle: str
