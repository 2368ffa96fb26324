"""Turning the configured secret into an AES-256 key, once per process.

Salt handling: PBKDF2's salt is not secret; it exists so that one precomputed table cannot attack
every postbot deployment at once. It comes from ``vault.salt`` in the config (non-secret, set it to a
random string per deployment; the default is a fixed, documented constant). The salt and the
iteration count are part of the key: changing either one changes the key id, so treat a change like a
secret rotation (keep the old setup under ``vault.previous_secret_keys`` until ``postbot rotate-key``
has run). Derivation is deliberately slow (≥ 100,000 iterations), which is why it happens once, when
the vault is built, and never per encryption.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

MIN_ITERATIONS = 100_000
DEFAULT_ITERATIONS = 600_000
DEFAULT_SALT = "postbot-vault-v1"
KEY_ID_BYTES = 8


@dataclass(frozen=True)
class VaultKey:
    """A derived key and its public id. The key bytes are never part of repr or str."""

    key_id: bytes
    aead: AESGCM = field(repr=False, compare=False)

    @property
    def key_id_hex(self) -> str:
        return self.key_id.hex()


def derive_key(secret: str, *, salt: str = DEFAULT_SALT, iterations: int = DEFAULT_ITERATIONS) -> VaultKey:
    if not secret:
        raise ValueError("the vault secret is empty")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"PBKDF2 needs at least {MIN_ITERATIONS} iterations, got {iterations}")
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt.encode(), iterations=iterations)
    key = kdf.derive(secret.encode())
    # The id is a hash of the derived key: it names the key in each ciphertext without revealing
    # anything about the secret beyond what the 256-bit key already protects.
    key_id = hashlib.sha256(b"postbot-vault-key-id:" + key).digest()[:KEY_ID_BYTES]
    return VaultKey(key_id=key_id, aead=AESGCM(key))
