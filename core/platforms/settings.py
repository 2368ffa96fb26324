"""The settings every platform's ``[platforms.<name>]`` section has. A platform that needs more keys,
or other defaults, subclasses ``PlatformSettings`` in its own ``settings.py``; core/config.py builds
the ``platforms`` table from those models, one section per name of core/platforms/registry.py.

This module imports nothing of postbot's: core/config.py loads every platform's ``settings.py``
while it is itself being imported, so they cannot import core.config.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class OAuthSettings(BaseModel):
    """Overrides for a platform's OAuth endpoints; unset ones use the provider's documented URL,
    rebased onto the platform's ``auth_base_url`` when that is set."""

    authorize_url: str | None = None
    token_url: str | None = None
    revoke_url: str | None = None
    profile_url: str | None = None
    scopes: list[str] | None = None


class PlatformSettings(BaseModel):
    """Where a platform's API lives and how postbot talks to it."""

    base_url: str | None = None
    upload_base_url: str | None = None
    auth_base_url: str | None = None
    # LinkedIn-Version (YYYYMM) for LinkedIn; the Graph API version ("v25.0") for Instagram. Unset:
    # the platform's default in core/platforms/<name>/versions.py.
    api_version: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    chunk_size_bytes: int = 8 * 1024 * 1024
    max_attempts: int | None = None
    # Token bucket per account: sustained requests per second and burst.
    rate_per_s: float | None = None
    burst: int | None = None
    max_concurrency: int | None = None
    oauth: OAuthSettings = Field(default_factory=OAuthSettings)
