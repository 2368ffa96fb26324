"""What can go wrong talking to an OAuth provider. Messages never carry tokens, codes or secrets."""

from __future__ import annotations


class OAuthError(Exception):
    """The provider refused a request; ``error`` is its OAuth error code (RFC 6749 §5.2 style)."""

    def __init__(self, message: str, *, error: str | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error
        self.status_code = status_code


class InvalidGrant(OAuthError):
    """The code or refresh token is used, expired or revoked: only a new link can fix it."""


class ProviderUnavailable(OAuthError):
    """A network error or a 5xx: worth trying again later; nothing about the grant is known."""
