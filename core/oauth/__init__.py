"""OAuth 2.0 clients for the platforms postbot publishes to."""

from core.oauth.base import OAuthProvider
from core.oauth.errors import InvalidGrant, OAuthError, ProviderUnavailable
from core.oauth.models import Profile, TokenSet
from core.oauth.registry import PROVIDERS, NotConfigured, OAuthClients

__all__ = [
    "PROVIDERS",
    "InvalidGrant",
    "NotConfigured",
    "OAuthClients",
    "OAuthError",
    "OAuthProvider",
    "Profile",
    "ProviderUnavailable",
    "TokenSet",
]
