"""Each platform's OAuth client against the fake provider speaking that platform's documented shapes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.config import PlatformSettings, PlatformsSettings, Settings
from core.domain import Platform
from core.oauth import InvalidGrant, NotConfigured, OAuthClients, OAuthProvider
from core.oauth.endpoints import Endpoints, rebase, resolve
from core.oauth.pkce import make_verifier, s256_challenge
from core.platforms.x.oauth import XOAuth
from tests.fakes.oauth_provider import FakeOAuthProvider

PLATFORMS = ["youtube", "instagram", "x", "linkedin", "tiktok"]
REDIRECT = "http://127.0.0.1:9/oauth/{p}/callback"


@pytest.fixture(params=PLATFORMS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeOAuthProvider]:
    async with FakeOAuthProvider(request.param) as provider:
        yield provider


def client_for(fake: FakeOAuthProvider, http: httpx.AsyncClient) -> OAuthProvider:
    platforms = PlatformsSettings(**{fake.platform: PlatformSettings(**fake.platform_settings())})
    return OAuthClients(Settings(platforms=platforms), http).get(Platform(fake.platform))


async def consent(
    provider: OAuthProvider, http: httpx.AsyncClient, *, state: str = "st-1"
) -> tuple[str, str | None, dict[str, list[str]]]:
    """Play the browser: open the authorize URL and read where the provider sends the user back."""
    verifier = make_verifier() if provider.uses_pkce else None
    url = provider.authorize_url(
        state=state,
        redirect_uri=REDIRECT.format(p=provider.platform.value),
        code_challenge=s256_challenge(verifier) if verifier else None,
    )
    response = await http.get(url)
    assert response.status_code == 302, response.text
    back = parse_qs(urlsplit(response.headers["location"]).query)
    assert back["state"] == [state]
    return back.get("code", [""])[0], verifier, back


async def test_full_grant_lifecycle(fake: FakeOAuthProvider, http: httpx.AsyncClient) -> None:
    provider = client_for(fake, http)
    code, verifier, _ = await consent(provider, http)
    redirect = REDIRECT.format(p=fake.platform)
    tokens = await provider.exchange_code(code=code, redirect_uri=redirect, code_verifier=verifier)
    assert fake.account_for(tokens.access_token) == fake.account.account_id
    assert tokens.expires_at is not None
    if fake.platform == "instagram":
        assert tokens.refresh_token is None  # Instagram has none; the long-lived token is refreshed
    else:
        assert tokens.refresh_token

    profile = await provider.fetch_profile(tokens)
    expected = fake.account.account_id
    assert profile.account_id == (f"urn:li:person:{expected}" if fake.platform == "linkedin" else expected)
    assert profile.display_name

    fresh = await provider.refresh(tokens)
    assert fresh.access_token != tokens.access_token
    assert fake.account_for(fresh.access_token) == fake.account.account_id
    assert fake.refresh_count == 1
    if fake.platform != "instagram":
        assert fresh.refresh_token  # kept when the provider does not rotate, replaced when it does

    revoked = await provider.revoke(fresh)
    assert revoked is provider.has_revoke
    if provider.has_revoke:
        assert fake.account_for(fresh.access_token) is None
    assert fake.protocol_errors == []


async def test_authorization_codes_are_single_use(fake: FakeOAuthProvider, http: httpx.AsyncClient) -> None:
    provider = client_for(fake, http)
    code, verifier, _ = await consent(provider, http)
    redirect = REDIRECT.format(p=fake.platform)
    first = await provider.exchange_code(code=code, redirect_uri=redirect, code_verifier=verifier)
    with pytest.raises(InvalidGrant):
        await provider.exchange_code(code=code, redirect_uri=redirect, code_verifier=verifier)
    # A replayed code kills what it bought (RFC 6749 §4.1.2).
    assert fake.account_for(first.access_token) is None


async def test_revoked_grant_refresh_is_invalid_grant(
    fake: FakeOAuthProvider, http: httpx.AsyncClient
) -> None:
    provider = client_for(fake, http)
    code, verifier, _ = await consent(provider, http)
    tokens = await provider.exchange_code(
        code=code, redirect_uri=REDIRECT.format(p=fake.platform), code_verifier=verifier
    )
    fake.revoke_grants()
    with pytest.raises(InvalidGrant) as info:
        await provider.refresh(tokens)
    assert tokens.access_token not in str(info.value)
    if tokens.refresh_token:
        assert tokens.refresh_token not in str(info.value)


async def test_user_pressing_cancel_comes_back_as_access_denied(
    fake: FakeOAuthProvider, http: httpx.AsyncClient
) -> None:
    provider = client_for(fake, http)
    fake.deny_next()
    code, _, back = await consent(provider, http)
    assert code == ""
    assert back["error"] == ["access_denied"]


async def test_tiktok_web_flow_sends_no_pkce_and_revokes_the_access_token(http: httpx.AsyncClient) -> None:
    """TikTok's web Login Kit takes no code_challenge, and its desktop one a hex challenge the fake
    checks; revoke takes the access token, so sending the refresh token left the app connected."""
    async with FakeOAuthProvider("tiktok") as fake:
        provider = client_for(fake, http)
        code, verifier, _ = await consent(provider, http)
        assert code and verifier is None
        assert "code_challenge" not in fake.authorize_requests[-1]
        tokens = await provider.exchange_code(
            code=code, redirect_uri=REDIRECT.format(p="tiktok"), code_verifier=None
        )
        assert tokens.refresh_token
        assert await provider.revoke(tokens) is True
        assert fake.account_for(tokens.access_token) is None
        assert fake.protocol_errors == []


@pytest.mark.parametrize("platform", ["x"])
async def test_pkce_verifier_is_checked(platform: str, http: httpx.AsyncClient) -> None:
    async with FakeOAuthProvider(platform) as fake:
        provider = client_for(fake, http)
        assert provider.uses_pkce
        code, verifier, _ = await consent(provider, http)
        sent = fake.authorize_requests[-1]
        assert sent["code_challenge_method"] == "S256"
        assert verifier is not None and sent["code_challenge"] == s256_challenge(verifier)
        with pytest.raises(InvalidGrant):
            await provider.exchange_code(
                code=code, redirect_uri=REDIRECT.format(p=platform), code_verifier=make_verifier()
            )
        assert "code_verifier does not match the code_challenge" in fake.protocol_errors


async def test_authorize_urls_carry_each_providers_parameters(http: httpx.AsyncClient) -> None:
    settings = Settings(
        platforms=PlatformsSettings(
            **{p: PlatformSettings(client_id=f"id-{p}", client_secret="s") for p in PLATFORMS}  # type: ignore[arg-type]
        )
    )
    clients = OAuthClients(settings, http)

    def query(p: Platform, challenge: str | None = None) -> tuple[str, dict[str, str]]:
        url = clients.get(p).authorize_url(state="S", redirect_uri="https://bot/cb", code_challenge=challenge)
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}", {
            k: v[0] for k, v in parse_qs(parts.query).items()
        }

    base, q = query(Platform.YOUTUBE, "c" * 43)
    assert base == "https://accounts.google.com/o/oauth2/v2/auth"
    assert q["access_type"] == "offline" and "youtube.upload" in q["scope"]
    assert q["code_challenge"] == "c" * 43 and q["code_challenge_method"] == "S256"
    base, q = query(Platform.X, "c" * 43)
    assert base == "https://x.com/i/oauth2/authorize"
    assert "offline.access" in q["scope"].split(" ") and q["code_challenge_method"] == "S256"
    base, q = query(Platform.TIKTOK, "c" * 43)
    assert base == "https://www.tiktok.com/v2/auth/authorize/"
    assert q["client_key"] == "id-tiktok" and "client_id" not in q and "," in q["scope"]
    base, q = query(Platform.LINKEDIN)
    assert base == "https://www.linkedin.com/oauth/v2/authorization" and "w_member_social" in q["scope"]
    base, q = query(Platform.INSTAGRAM)
    assert base == "https://www.instagram.com/oauth/authorize"
    assert "instagram_business_content_publish" in q["scope"]
    with pytest.raises(ValueError):
        clients.get(Platform.X).authorize_url(state="S", redirect_uri="https://bot/cb", code_challenge=None)


def test_endpoint_overrides() -> None:
    defaults = XOAuth.defaults
    assert (
        rebase("https://api.x.com/2/oauth2/token", "http://127.0.0.1:5/px")
        == "http://127.0.0.1:5/px/2/oauth2/token"
    )
    moved = resolve(defaults, PlatformSettings(auth_base_url="http://h:1"))
    assert moved == Endpoints(
        authorize="http://h:1/i/oauth2/authorize",
        token="http://h:1/2/oauth2/token",
        revoke="http://h:1/2/oauth2/revoke",
        profile="http://h:1/2/users/me",
    )
    explicit = resolve(defaults, PlatformSettings.model_validate({"oauth": {"token_url": "http://t/tok"}}))
    assert explicit.token == "http://t/tok" and explicit.authorize == defaults.authorize


async def test_missing_credentials_say_which_setting(http: httpx.AsyncClient) -> None:
    with pytest.raises(NotConfigured) as info:
        OAuthClients(Settings(), http).get(Platform.TIKTOK)
    assert "POSTBOT_PLATFORMS__TIKTOK__CLIENT_SECRET" in str(info.value)


async def test_wrong_client_secret_is_not_a_dead_grant(http: httpx.AsyncClient) -> None:
    async with FakeOAuthProvider("linkedin") as fake:
        provider = client_for(fake, http)
        code, verifier, _ = await consent(provider, http)
        fake.client_secret = "rotated-at-the-provider"
        from core.oauth import OAuthError

        with pytest.raises(OAuthError) as info:
            await provider.exchange_code(
                code=code, redirect_uri=REDIRECT.format(p="linkedin"), code_verifier=verifier
            )
        assert not isinstance(info.value, InvalidGrant)
        assert info.value.error == "invalid_client"
        assert "rotated-at-the-provider" not in str(info.value)


def test_pkce_matches_rfc_7636() -> None:
    """RFC 7636 appendix B's example (https://www.rfc-editor.org/rfc/rfc7636#appendix-B), and a
    verifier of section 4.1's form: 43 to 128 unreserved characters, here 86 from 64 random bytes."""
    assert (
        s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifiers = {make_verifier() for _ in range(20)}
    assert len(verifiers) == 20
    for verifier in verifiers:
        assert len(verifier) == 86 and re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier), verifier
