"""Encrypting tokens at rest.

A ciphertext is self-describing: ``version (1 byte) | key id (8 bytes) | nonce (12 bytes) |
AES-GCM ciphertext and tag``. The key id lets the vault pick the right key after a rotation; the
header is authenticated together with the caller's associated data (the row the token belongs to),
so a ciphertext copied onto another account's row, or into another column, fails to decrypt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag

from core.crypto.keys import KEY_ID_BYTES, VaultKey, derive_key

if TYPE_CHECKING:
    from core.config import Settings

VERSION = 1
NONCE_BYTES = 12
_HEADER = 1 + KEY_ID_BYTES
_MIN_BLOB = _HEADER + NONCE_BYTES + 16


class VaultError(Exception):
    """A ciphertext could not be opened. Messages never include key or plaintext material."""


class DecryptError(VaultError):
    pass


class UnknownKeyError(VaultError):
    pass


def account_aad(account_id: int, column: str) -> bytes:
    """Associated data for a token column of one social_accounts row."""
    return f"postbot:social_accounts:{account_id}:{column}".encode()


def state_aad(state_hash: str) -> bytes:
    """Associated data for the PKCE verifier of one pending OAuth link."""
    return f"postbot:oauth_states:{state_hash}".encode()


class Vault:
    """Holds the current key (encrypts) and previous keys (decrypt only, during a rotation)."""

    def __init__(self, current: VaultKey, previous: Iterable[VaultKey] = ()) -> None:
        self._current = current
        self._keys: dict[bytes, VaultKey] = {k.key_id: k for k in previous}
        self._keys[current.key_id] = current

    @classmethod
    def from_secrets(
        cls,
        secret: str,
        previous: Iterable[str] = (),
        *,
        salt: str,
        iterations: int,
    ) -> Vault:
        return cls(
            derive_key(secret, salt=salt, iterations=iterations),
            [derive_key(s, salt=salt, iterations=iterations) for s in previous if s],
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        from core.config import require

        return cls.from_secrets(
            require(settings.secret_key, "secret_key"),
            [s.get_secret_value() for s in settings.vault.previous_secret_keys],
            salt=settings.vault.salt,
            iterations=settings.vault.iterations,
        )

    @property
    def current_key_id(self) -> str:
        return self._current.key_id_hex

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(k.hex() for k in self._keys)

    def encrypt(self, plaintext: str, aad: bytes) -> bytes:
        header = bytes([VERSION]) + self._current.key_id
        # A fresh random 96-bit nonce each time: with one key, GCM's safety rests on never reusing one.
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode(), header + aad)
        return header + nonce + sealed

    def decrypt(self, blob: bytes, aad: bytes) -> str:
        key = self._key_for(blob)
        header, nonce, sealed = (
            blob[:_HEADER],
            blob[_HEADER : _HEADER + NONCE_BYTES],
            blob[_HEADER + NONCE_BYTES :],
        )
        try:
            plain = key.aead.decrypt(nonce, sealed, header + aad)
        except InvalidTag:
            raise DecryptError(
                "stored token failed authentication (tampered, or bound to another row)"
            ) from None
        return plain.decode()

    def key_id_of(self, blob: bytes) -> str:
        self._check_shape(blob)
        return blob[1:_HEADER].hex()

    def needs_rotation(self, blob: bytes) -> bool:
        return self.key_id_of(blob) != self.current_key_id

    def reencrypt(self, blob: bytes, aad: bytes) -> bytes:
        """The same plaintext under the current key (a no-op for blobs already under it)."""
        if not self.needs_rotation(blob):
            return blob
        return self.encrypt(self.decrypt(blob, aad), aad)

    def _key_for(self, blob: bytes) -> VaultKey:
        self._check_shape(blob)
        key = self._keys.get(blob[1:_HEADER])
        if key is None:
            raise UnknownKeyError(
                f"stored token is under key {blob[1:_HEADER].hex()}, which this process does not hold: "
                "add the old secret to vault.previous_secret_keys and run `postbot rotate-key`"
            )
        return key

    @staticmethod
    def _check_shape(blob: bytes) -> None:
        if len(blob) < _MIN_BLOB:
            raise DecryptError("stored token is truncated")
        if blob[0] != VERSION:
            raise DecryptError(f"stored token has unknown format version {blob[0]}")

    def __repr__(self) -> str:
        return f"Vault(current={self.current_key_id}, keys={sorted(self.key_ids)})"
