"""The token vault: AES-256-GCM with PBKDF2-derived, rotatable keys."""

from core.crypto.keys import VaultKey, derive_key
from core.crypto.vault import (
    DecryptError,
    UnknownKeyError,
    Vault,
    VaultError,
    account_aad,
    state_aad,
)

__all__ = [
    "DecryptError",
    "UnknownKeyError",
    "Vault",
    "VaultError",
    "VaultKey",
    "account_aad",
    "derive_key",
    "state_aad",
]
