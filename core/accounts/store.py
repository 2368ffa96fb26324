"""Reading and writing a SocialAccount's tokens through the vault.

Each token is bound to its row and column (associated data), so a ciphertext moved to another
account or swapped between the access and refresh columns fails to decrypt instead of being used.
"""

from __future__ import annotations

from core.crypto import Vault, account_aad
from core.db.models import SocialAccount
from core.domain import AccountStatus
from core.oauth.models import TokenSet

ACCESS = "access_token"
REFRESH = "refresh_token"


def save_tokens(account: SocialAccount, tokens: TokenSet, vault: Vault) -> None:
    """Encrypt ``tokens`` into ``account`` (which must have its id: flush a new row first)."""
    if account.id is None:
        raise ValueError("flush the account row before storing its tokens: they are bound to its id")
    account.access_token_enc = vault.encrypt(tokens.access_token, account_aad(account.id, ACCESS))
    account.refresh_token_enc = (
        vault.encrypt(tokens.refresh_token, account_aad(account.id, REFRESH))
        if tokens.refresh_token
        else None
    )
    account.key_id = vault.current_key_id
    account.token_expires_at = tokens.expires_at
    account.refresh_expires_at = tokens.refresh_expires_at
    if tokens.scope:
        account.scopes = tokens.scope
    account.status = AccountStatus.ACTIVE.value
    account.last_error = None


def load_tokens(account: SocialAccount, vault: Vault) -> TokenSet:
    if account.access_token_enc is None:
        raise ValueError("this account holds no tokens")
    refresh = (
        vault.decrypt(account.refresh_token_enc, account_aad(account.id, REFRESH))
        if account.refresh_token_enc is not None
        else None
    )
    return TokenSet(
        access_token=vault.decrypt(account.access_token_enc, account_aad(account.id, ACCESS)),
        refresh_token=refresh,
        expires_at=account.token_expires_at,
        refresh_expires_at=account.refresh_expires_at,
        scope=account.scopes,
        account_hint=account.remote_account_id,
    )
