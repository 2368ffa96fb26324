"""Where a provider's OAuth endpoints are: documented defaults, overridable from the config."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from core.config import PlatformSettings


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    revoke: str | None
    profile: str


def rebase(url: str, base: str | None) -> str:
    """``url`` with its scheme and host replaced by ``base`` (path prefix of ``base`` kept)."""
    if not base:
        return url
    src, dst = urlsplit(url), urlsplit(base)
    return urlunsplit((dst.scheme, dst.netloc, dst.path.rstrip("/") + src.path, src.query, ""))


def resolve(defaults: Endpoints, settings: PlatformSettings) -> Endpoints:
    """Explicit URLs win; otherwise every default is moved onto ``auth_base_url`` when it is set,
    which is how a test or a proxy points one platform's whole OAuth traffic somewhere else."""
    base = settings.auth_base_url
    o = settings.oauth
    revoke = o.revoke_url or (rebase(defaults.revoke, base) if defaults.revoke else None)
    return Endpoints(
        authorize=o.authorize_url or rebase(defaults.authorize, base),
        token=o.token_url or rebase(defaults.token, base),
        revoke=revoke,
        profile=o.profile_url or rebase(defaults.profile, base),
    )
