"""The token vault: AES-256-GCM round trips, tamper and misplacement detection, key rotation."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.config import Settings, VaultSettings
from core.crypto import DecryptError, UnknownKeyError, Vault, account_aad, derive_key, state_aad
from core.crypto.keys import MIN_ITERATIONS

ITER = MIN_ITERATIONS  # the floor keeps the suite fast; production defaults to 600,000
OLD = derive_key("old secret", iterations=ITER)
NEW = derive_key("new secret", iterations=ITER)
TOKEN = "ya29.a0AfH6SMBx-secret-access-token"


def test_round_trip_and_blob_layout() -> None:
    vault = Vault(NEW)
    blob = vault.encrypt(TOKEN, account_aad(7, "access_token"))
    assert blob[0] == 1
    assert blob[1:9].hex() == vault.current_key_id
    assert TOKEN.encode() not in blob
    # version + key id + nonce + plaintext + 16-byte tag
    assert len(blob) == 1 + 8 + 12 + len(TOKEN) + 16
    assert vault.decrypt(blob, account_aad(7, "access_token")) == TOKEN


def test_each_encryption_uses_a_fresh_nonce() -> None:
    vault = Vault(NEW)
    blobs = {vault.encrypt(TOKEN, b"x") for _ in range(50)}
    assert len(blobs) == 50
    assert len({b[9:21] for b in blobs}) == 50


@pytest.mark.parametrize("position", [0, 1, 5, 9, 15, 21, 30, -1])
def test_flipping_any_bit_is_detected(position: int) -> None:
    vault = Vault(NEW)
    blob = bytearray(vault.encrypt(TOKEN, account_aad(7, "access_token")))
    blob[position] ^= 0x01
    with pytest.raises((DecryptError, UnknownKeyError)):
        vault.decrypt(bytes(blob), account_aad(7, "access_token"))


def test_ciphertext_is_bound_to_its_row_and_column() -> None:
    vault = Vault(NEW)
    blob = vault.encrypt(TOKEN, account_aad(7, "access_token"))
    with pytest.raises(DecryptError):
        vault.decrypt(blob, account_aad(8, "access_token"))
    with pytest.raises(DecryptError):
        vault.decrypt(blob, account_aad(7, "refresh_token"))
    with pytest.raises(DecryptError):
        vault.decrypt(blob, state_aad("7"))


def test_truncated_blob_is_an_error_not_a_crash() -> None:
    vault = Vault(NEW)
    blob = vault.encrypt(TOKEN, b"x")
    with pytest.raises(DecryptError):
        vault.decrypt(blob[:20], b"x")


def test_errors_never_carry_the_plaintext_or_key() -> None:
    vault = Vault(NEW)
    blob = vault.encrypt(TOKEN, b"a")
    with pytest.raises(DecryptError) as info:
        vault.decrypt(blob, b"b")
    assert TOKEN not in str(info.value)
    assert "secret" not in repr(vault)


def test_rotation_moves_blobs_to_the_new_key_and_old_key_is_then_unneeded() -> None:
    old_vault = Vault(OLD)
    blobs = {i: old_vault.encrypt(f"{TOKEN}-{i}", account_aad(i, "access_token")) for i in range(5)}

    rotating = Vault(NEW, [OLD])
    assert all(rotating.needs_rotation(b) for b in blobs.values())
    # During the rotation both generations decrypt.
    assert rotating.decrypt(blobs[0], account_aad(0, "access_token")) == f"{TOKEN}-0"
    rotated = {i: rotating.reencrypt(b, account_aad(i, "access_token")) for i, b in blobs.items()}
    assert not any(rotating.needs_rotation(b) for b in rotated.values())
    assert rotating.reencrypt(rotated[0], account_aad(0, "access_token")) is rotated[0]

    new_only = Vault(NEW)
    for i, blob in rotated.items():
        assert new_only.decrypt(blob, account_aad(i, "access_token")) == f"{TOKEN}-{i}"
    with pytest.raises(UnknownKeyError) as info:
        new_only.decrypt(blobs[0], account_aad(0, "access_token"))
    assert "rotate-key" in str(info.value)


def test_key_derivation_is_deterministic_and_salted() -> None:
    assert derive_key("s", iterations=ITER).key_id == derive_key("s", iterations=ITER).key_id
    assert derive_key("s", iterations=ITER).key_id != derive_key("s", salt="other", iterations=ITER).key_id
    assert derive_key("s", iterations=ITER).key_id != derive_key("s", iterations=ITER + 1).key_id
    with pytest.raises(ValueError):
        derive_key("s", iterations=1000)
    with pytest.raises(ValueError):
        derive_key("", iterations=ITER)


def test_vault_from_settings_holds_current_and_previous_keys() -> None:
    settings = Settings(
        secret_key=SecretStr("new secret"),
        vault=VaultSettings(iterations=ITER, previous_secret_keys=[SecretStr("old secret")]),
    )
    vault = Vault.from_settings(settings)
    assert vault.current_key_id == NEW.key_id_hex
    assert vault.key_ids == {NEW.key_id_hex, OLD.key_id_hex}


def test_derivation_happens_once_per_vault_not_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.kdf import pbkdf2

    calls = 0
    real = pbkdf2.PBKDF2HMAC.derive

    def counting(self: pbkdf2.PBKDF2HMAC, data: bytes) -> bytes:
        nonlocal calls
        calls += 1
        return real(self, data)

    monkeypatch.setattr(pbkdf2.PBKDF2HMAC, "derive", counting)
    vault = Vault.from_secrets("s", salt="x", iterations=ITER)
    for _ in range(20):
        vault.decrypt(vault.encrypt(TOKEN, b"a"), b"a")
    assert calls == 1
