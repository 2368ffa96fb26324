"""OAuth 2.0 clients for the platforms postbot publishes to."""

from core.oauth.base import OAuthProvider
from core.oauth.clients import NotConfigured, OAuthClients
from core.oauth.errors import InvalidGrant, OAuthError, ProviderUnavailable
from core.oauth.models import Profile, TokenSet

__all__ = [
    "InvalidGrant",
    "NotConfigured",
    "OAuthClients",
    "OAuthError",
    "OAuthProvider",
    "Profile",
    "ProviderUnavailable",
    "TokenSet",
]
