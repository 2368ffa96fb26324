"""The account-linking flow end to end: the real web server on loopback, a browser (httpx following
redirects), and each platform's fake OAuth provider; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.console.commands import ConsoleNotifier
from adapters.web import WebServer, build_web_app
from core.accounts.binding import BrowserBinding
from core.accounts.linking import AccountLinker, hash_state
from core.accounts.store import load_tokens
from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings, VaultSettings, WebSettings
from core.crypto import Vault, state_aad
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import OAuthState, SocialAccount
from core.domain import AccountStatus, ChatContext, ChatKind, Platform
from core.errors import PermissionDenied
from core.logs import JsonFormatter, setup_logging
from core.notify import NotifierRouter
from core.oauth import OAuthClients
from core.oauth.pkce import s256_challenge
from core.render import accounts_text, unlink_text
from core.service import Postbot
from core.store.heartbeats import Heartbeats
from tests.conftest import Database
from tests.fakes.oauth_provider import FakeOAuthProvider

ADMIN = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U-admin", user_name="ada", is_admin=True)
MEMBER = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U-member", user_name="bob", is_admin=False)
SECRET = "vault secret for the linking tests"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


METRICS_TOKEN = "scrape-token-0123456789"


@dataclass
class Site:
    fake: FakeOAuthProvider
    server: WebServer
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    linker: AccountLinker
    vault: Vault
    settings: Settings
    http: httpx.AsyncClient
    browser: httpx.AsyncClient
    clock: Clock
    dms: list[str] = field(default_factory=list)

    async def accounts(self) -> list[SocialAccount]:
        async with self.sessions() as session:
            return list((await session.execute(select(SocialAccount))).scalars())

    async def states(self) -> list[OAuthState]:
        async with self.sessions() as session:
            return list((await session.execute(select(OAuthState))).scalars())

    async def open_link(self, link: str, browser: httpx.AsyncClient | None = None) -> httpx.Response:
        """What a person does: open the DMed link, read the confirmation, press the button."""
        browser = browser or self.browser
        confirmation = await browser.get(link)
        if confirmation.status_code != 200:
            return confirmation
        assert '<form method="post"' in confirmation.text
        return await browser.post(link.split("?", 1)[0], data={"state": _state(link)})

    async def provider_redirect(self, link: str) -> str:
        """Follow the link to the provider and back, stopping before our callback is called."""
        confirmation = await self.browser.get(link)
        assert confirmation.status_code == 200, confirmation.text
        start = await self.browser.post(
            link.split("?", 1)[0], data={"state": _state(link)}, follow_redirects=False
        )
        assert start.status_code == 303, start.text
        at_provider = await self.browser.get(start.headers["location"], follow_redirects=False)
        assert at_provider.status_code == 302, at_provider.text
        callback: str = at_provider.headers["location"]
        assert callback.startswith(f"{self.server.url}/oauth/{self.fake.platform}/callback")
        return callback


def _state(link: str) -> str:
    return parse_qs(urlsplit(link).query)["state"][0]


async def open_site(db: Database, tmp_settings: Settings, platform: str) -> Site:
    fake = await FakeOAuthProvider(platform).start()
    server = WebServer("127.0.0.1", 0)
    settings = tmp_settings.model_copy(
        update={
            "secret_key": SecretStr(SECRET),
            "vault": VaultSettings(iterations=MIN_ITERATIONS),
            "web": WebSettings(public_url=server.url),
            "platforms": PlatformsSettings(**{platform: PlatformSettings(**fake.platform_settings())}),
        }
    )
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    vault = Vault.from_settings(settings)
    http = httpx.AsyncClient(timeout=10)
    dms: list[str] = []
    notifier = NotifierRouter({ChatKind.CONSOLE: ConsoleNotifier(dms.append)})
    clock = Clock()
    linker = AccountLinker(settings, sessions, vault, OAuthClients(settings, http), notifier, clock=clock)

    async def slack_events(request: Request) -> Response:
        return PlainTextResponse("slack here")

    await server.start(
        build_web_app(
            Postbot(settings, sessions, linker=linker),
            extra_routes=[Route("/slack/events", slack_events, methods=["POST"])],
            metrics_token=METRICS_TOKEN,
        )
    )
    browser = httpx.AsyncClient(timeout=10, follow_redirects=True)
    return Site(fake, server, engine, sessions, linker, vault, settings, http, browser, clock, dms)


async def close_site(site: Site) -> None:
    await site.browser.aclose()
    await site.http.aclose()
    await site.server.stop()
    await site.fake.stop()
    await site.engine.dispose()


@pytest.fixture
async def site(db: Database, settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    s = await open_site(db, settings, getattr(request, "param", "youtube"))
    yield s
    await close_site(s)


@pytest.mark.parametrize("site", ["youtube", "instagram", "x", "linkedin", "tiktok"], indirect=True)
async def test_full_link_flow(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform(site.fake.platform))
    assert link.startswith(f"{site.server.url}/oauth/{site.fake.platform}/start?state=")

    page = await site.open_link(link)

    assert page.status_code == 200, page.text
    assert "linked" in page.text and "for T1, the local console" in page.text
    [account] = await site.accounts()
    assert account.status == AccountStatus.ACTIVE.value
    expected_id = site.fake.account.account_id
    if site.fake.platform == "linkedin":
        expected_id = f"urn:li:person:{expected_id}"
    assert account.remote_account_id == expected_id
    assert account.key_id == site.vault.current_key_id
    tokens = load_tokens(account, site.vault)
    assert site.fake.account_for(tokens.access_token) == site.fake.account.account_id
    assert tokens.access_token.encode() not in (account.access_token_enc or b"")
    assert site.fake.protocol_errors == []
    handle = account.display_name
    assert handle and handle in page.text
    linked = f"[DM] {Platform(site.fake.platform).label} linked as {handle} for T1 (local console)."
    if site.fake.platform == "youtube":
        # Said once, when linking: an unaudited Google project's uploads are locked private.
        [dm] = site.dms
        assert dm.startswith(linked) and "private" in dm and "audit" in dm
    else:
        assert site.dms == [linked]
    # The stored account is immediately usable by publishers.
    source = TokenSources(site.sessions, site.vault, site.linker.oauth)(account)
    assert await source.access_token() == tokens.access_token
    site.fake.expire_access_tokens()
    assert site.fake.account_for(await source.refresh()) == site.fake.account.account_id


@pytest.mark.parametrize("site", ["youtube", "x"], indirect=True)
async def test_pkce_challenge_matches_the_stored_verifier_and_the_fake_checks_it(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform(site.fake.platform))
    callback = await site.provider_redirect(link)
    [state] = await site.states()
    assert state.pkce_verifier_enc is not None
    verifier = site.vault.decrypt(state.pkce_verifier_enc, state_aad(state.state_hash))
    assert verifier.encode() not in state.pkce_verifier_enc
    sent = site.fake.authorize_requests[-1]
    assert sent["code_challenge_method"] == "S256" and sent["code_challenge"] == s256_challenge(verifier)
    page = await site.browser.get(callback)
    assert page.status_code == 200
    # The fake refuses a wrong verifier (tests/test_oauth_providers.py); here the right one got through.
    assert [(c.grant_type, c.status) for c in site.fake.token_calls] == [("authorization_code", 200)]


async def test_non_admin_is_refused_and_nothing_is_stored(site: Site) -> None:
    with pytest.raises(PermissionDenied) as info:
        await site.linker.start_link(MEMBER, Platform.YOUTUBE)
    assert "Only admins can link accounts" in str(info.value)
    assert await site.states() == []


async def test_expired_link_shows_a_clear_page_and_stores_nothing(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    site.clock.now += timedelta(minutes=11)
    page = await site.browser.get(link)
    assert page.status_code == 410
    assert "This link has expired" in page.text
    # The page can't know which chat the link came from (/postbot link in Slack and Discord, /link in
    # the console): it names the command by what it does.
    assert "postbot's link command for youtube in chat" in html.unescape(page.text)
    assert "/link" not in page.text
    assert site.fake.authorize_requests == []
    assert await site.accounts() == []


async def test_link_expiring_while_at_the_provider_is_refused_at_the_callback(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    callback = await site.provider_redirect(link)
    site.clock.now += timedelta(minutes=10, seconds=1)
    page = await site.browser.get(callback)
    assert page.status_code == 410 and "expired" in page.text
    assert site.fake.token_calls == []  # the code was never exchanged
    assert await site.accounts() == []


async def test_replayed_callback_is_refused_and_the_code_not_exchanged_again(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    callback = await site.provider_redirect(link)
    first = await site.browser.get(callback)
    assert first.status_code == 200
    again = await site.browser.get(callback)
    assert again.status_code == 409
    assert "already used" in again.text
    assert len(site.fake.token_calls) == 1
    assert len(await site.accounts()) == 1
    # The link itself is spent too.
    reopened = await site.browser.get(link)
    assert reopened.status_code == 409


async def test_forged_or_altered_state_is_refused(site: Site) -> None:
    forged = await site.browser.get(f"{site.server.url}/oauth/youtube/callback?state=made-up&code=abc")
    assert forged.status_code == 400 and "isn't valid" in forged.text
    missing = await site.browser.get(f"{site.server.url}/oauth/youtube/callback?code=abc")
    assert missing.status_code == 400
    # A real state for YouTube pasted into another platform's callback is just as forged.
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    state = parse_qs(urlsplit(link).query)["state"][0]
    crossed = await site.browser.get(f"{site.server.url}/oauth/x/callback?state={state}&code=abc")
    assert crossed.status_code == 400
    unknown = await site.browser.get(f"{site.server.url}/oauth/myspace/callback?state={state}&code=abc")
    assert unknown.status_code == 404
    assert site.fake.token_calls == []
    assert await site.accounts() == []
    # The untouched YouTube link still works afterwards.
    assert (await site.browser.get(link)).status_code == 200


async def test_access_denied_at_the_provider_stores_nothing_and_burns_the_link(site: Site) -> None:
    site.fake.deny_next()
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    page = await site.open_link(link)
    assert page.status_code == 200
    assert "Linking cancelled" in page.text and "declined" in page.text
    assert await site.accounts() == []
    assert site.fake.token_calls == []
    assert site.dms == []
    assert (await site.browser.get(link)).status_code == 409


async def test_relinking_updates_the_same_account(site: Site) -> None:
    for _ in range(2):
        link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
        assert (await site.open_link(link)).status_code == 200
    assert len(await site.accounts()) == 1


@pytest.mark.parametrize("site", ["x", "instagram"], indirect=True)
async def test_accounts_and_unlink(site: Site) -> None:
    platform = Platform(site.fake.platform)
    assert (await site.open_link(await site.linker.start_link(ADMIN, platform))).status_code == 200
    [account] = await site.accounts()
    token = load_tokens(account, site.vault).access_token
    views = await site.linker.list_accounts(MEMBER)
    assert [v.platform for v in views] == [platform]
    text = accounts_text(views)
    assert platform.label in text and "ok" in text and token not in text

    with pytest.raises(PermissionDenied):
        await site.linker.unlink(MEMBER, platform)
    outcome = await site.linker.unlink(ADMIN, platform)
    assert await site.accounts() == []
    if platform is Platform.X:
        assert outcome.revoked_at_provider
        assert site.fake.account_for(token) is None
        assert "revoked at X" in unlink_text(outcome)
    else:
        # Instagram has no revoke endpoint: say so instead of pretending.
        assert not outcome.revoked_at_provider
        assert outcome.note and "connected apps" in outcome.note
    assert await site.linker.list_accounts(MEMBER) == []


async def test_health_metrics_and_mounted_routes(site: Site) -> None:
    assert (await site.browser.get(f"{site.server.url}/health")).json() == {"status": "ok"}
    await site.browser.get(f"{site.server.url}/oauth/youtube/callback?state=nope")
    assert (await site.browser.get(f"{site.server.url}/metrics")).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await site.browser.get(f"{site.server.url}/metrics", headers=wrong)).status_code == 401
    scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    metrics = await site.browser.get(f"{site.server.url}/metrics", headers=scraper)
    assert metrics.status_code == 200
    assert 'postbot_oauth_links_total{outcome="forged",platform="youtube"}' in metrics.text
    slack = await site.browser.post(f"{site.server.url}/slack/events")
    assert slack.text == "slack here"


@pytest.fixture
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The bot's own logging setup at its most verbose, with the records also captured for the test."""
    root = logging.getLogger()
    names = ("httpx", "httpcore", "apscheduler")
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in names})
    setup_logging("DEBUG", json_output=True)
    root.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


async def test_no_token_or_secret_reaches_logs_pages_or_chat(
    site: Site, production_logging: pytest.LogCaptureFixture
) -> None:
    caplog = production_logging
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    callback = await site.provider_redirect(link)
    page = await site.browser.get(callback)
    assert page.status_code == 200
    await site.browser.get(callback)  # a replay, logged as such
    [account] = await site.accounts()
    tokens = load_tokens(account, site.vault)
    source = TokenSources(site.sessions, site.vault, site.linker.oauth)(account)
    site.fake.expire_access_tokens()
    refreshed = await source.refresh()
    site.fake.revoke_grants()
    with pytest.raises(Exception) as failure:
        await source.refresh()

    q = parse_qs(urlsplit(callback).query)
    secrets_seen = {
        "state": q["state"][0],
        "code": q["code"][0],
        "access token": tokens.access_token,
        "refresh token": tokens.refresh_token or "",
        "refreshed token": refreshed,
        "client secret": site.fake.client_secret,
        "vault secret": SECRET,
    }
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert "token refreshed" in logged and "account linked" in logged  # the flow was logged at all
    texts = {
        "logs": logged,
        "page": page.text,
        "DMs": "\n".join(site.dms),
        "error": f"{failure.value} {getattr(failure.value, 'hint', '')}",
        "accounts": accounts_text(await site.linker.list_accounts(ADMIN)),
        "last_error": (await site.accounts())[0].last_error or "",
    }
    for where, text in texts.items():
        for what, value in secrets_seen.items():
            assert value and value not in text, f"{what} appears in {where}"
    assert json.dumps(site.dms)  # DMs exist and were checked
    async with site.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(OAuthState))).scalar_one() == 1


async def test_request_link_dms_the_admin_only(site: Site) -> None:
    ack = await site.linker.request_link(ADMIN, "yt")
    assert "direct message" in ack
    [dm] = site.dms
    link = dm.split("Link the team's YouTube account: ", 1)[1].split("\n", 1)[0]
    assert link not in ack  # the single-use link never goes to the channel
    assert "expires in 10 minutes" in dm
    assert (await site.browser.get(link)).status_code == 200
    with pytest.raises(PermissionDenied):
        await site.linker.request_link(MEMBER, "youtube")
    from core.errors import PlatformParseError

    with pytest.raises(PlatformParseError) as info:
        await site.linker.request_link(ADMIN, "myspace")
    assert "youtube, instagram, x, linkedin, tiktok" in str(info.value)


async def test_start_web_health_checks_the_database(db: Database, settings: Settings) -> None:
    from adapters.web.run import start_web
    from core.accounts.service import Accounts

    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    wired = settings.model_copy(
        update={
            "secret_key": SecretStr(SECRET),
            "vault": VaultSettings(iterations=MIN_ITERATIONS),
            "web": WebSettings(host="127.0.0.1", port=0),
        }
    )
    async with httpx.AsyncClient(timeout=10) as http:
        accounts = Accounts.build(wired, session_factory(engine), http, NotifierRouter())
        postbot = Postbot(wired, session_factory(engine), linker=accounts.linker)
        server = await start_web(postbot)
        # Healthy also means some scheduler is alive (tests/test_health_heartbeats.py).
        await Heartbeats(session_factory(engine)).beat("w1", in_flight=0, completed=0)
        try:
            assert (await http.get(f"{server.url}/health")).json()["status"] == "ok"
            # No token and no private address: /metrics is not served at all.
            assert (await http.get(f"{server.url}/metrics")).status_code == 404
        finally:
            await server.stop()

        # A private metrics address: /metrics there (no token needed), and not on the public port.
        postbot.settings.web = WebSettings(
            host="127.0.0.1", port=0, metrics_host="127.0.0.1", metrics_port=0, metrics_token=SecretStr("t")
        )
        server = await start_web(postbot)
        try:
            [private] = server.also
            assert private.port != server.port
            assert (await http.get(f"{private.url}/metrics")).status_code == 200
            public = await http.get(f"{server.url}/metrics", headers={"Authorization": "Bearer t"})
            assert public.status_code == 404
        finally:
            await server.stop()

        async def broken() -> None:
            raise ConnectionRefusedError

        down = WebServer()
        await down.start(build_web_app(postbot, health_check=broken))
        try:
            response = await http.get(f"{down.url}/health")
            assert response.status_code == 503
        finally:
            await down.stop()
    await engine.dispose()


async def test_provider_errors_at_the_callback_store_nothing(site: Site) -> None:
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    state = _state(link)
    assert (await site.browser.get(link)).status_code == 200  # opened: this browser holds the link
    other = await site.browser.get(
        f"{site.server.url}/oauth/youtube/callback?state={state}&error=server_error&error_description=Try+later"
    )
    assert other.status_code == 502 and "server_error: Try later" in other.text

    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    callback = await site.provider_redirect(link)
    await site.fake.stop()  # Google is down when the code is exchanged
    down = await site.browser.get(callback)
    assert down.status_code == 502
    assert "could not reach YouTube" in down.text and "Nothing was linked" in down.text
    assert await site.accounts() == []
    assert site.dms == []


async def test_the_link_is_bound_to_the_first_browser_that_opens_it(site: Site) -> None:
    """Issue 11 point 3: a forwarded or phished link, or a callback URL carried into another browser,
    links nothing; the admin's own browser still can."""
    link = await site.linker.start_link(replace(ADMIN, team_name="Acme"), Platform.YOUTUBE)
    confirmation = await site.browser.get(link)
    assert confirmation.status_code == 200
    # Before anything goes to the provider the page says which team and chat get the account.
    assert "Link YouTube to Acme (T1)?" in confirmation.text
    assert "ada asked to link a YouTube account to Acme (T1), the local console" in confirmation.text
    assert site.fake.authorize_requests == []
    cookie = confirmation.headers["set-cookie"]
    assert cookie.startswith("postbot_link=")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/oauth/youtube/", "max-age=600"} <= attributes
    assert "secure" not in attributes  # http://127.0.0.1 here; see the https test below

    async with httpx.AsyncClient(timeout=10, follow_redirects=True) as other:
        forwarded = await other.get(link)
        assert forwarded.status_code == 403 and "another one" in forwarded.text
        assert "set-cookie" not in forwarded.headers
        posted = await other.post(link.split("?", 1)[0], data={"state": _state(link)})
        assert posted.status_code == 403
        # The admin's callback URL (code and state) opened elsewhere: refused, and the link not spent.
        callback = await site.provider_redirect(link)
        carried = await other.get(callback)
        assert carried.status_code == 403
        assert site.fake.token_calls == []
        # A cookie forged for this state does not pass either.
        other.cookies.set("postbot_link", "nonce.0000", path="/oauth/youtube/")
        assert (await other.get(callback)).status_code == 403

    page = await site.browser.get(callback)
    assert page.status_code == 200 and "for Acme (T1), the local console" in page.text
    assert len(await site.accounts()) == 1
    assert "for Acme (T1) (local console)." in site.dms[-1]


async def test_the_confirmation_refuses_another_browser_before_the_provider(site: Site) -> None:
    """The confirmation POST checks the browser itself: another browser is answered 403 there and is
    never sent to the provider. Mutation (issue 29): the check in AccountLinker.authorize_url removed
    passed, because the test above follows redirects and the callback's own check refused it later,
    after the provider had been shown the link."""
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    assert (await site.browser.get(link)).status_code == 200  # the admin's browser holds the link
    async with httpx.AsyncClient(timeout=10) as other:
        posted = await other.post(link.split("?", 1)[0], data={"state": _state(link)}, follow_redirects=False)
        assert posted.status_code == 403 and "another one" in posted.text
        assert "location" not in posted.headers
        # A cookie from this server, signed for another link, opens nothing here either.
        other_link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
        assert (await other.get(other_link)).status_code == 200
        assert other.cookies.get("postbot_link", path="/oauth/youtube/")
        posted = await other.post(link.split("?", 1)[0], data={"state": _state(link)}, follow_redirects=False)
        assert posted.status_code == 403
    assert site.fake.authorize_requests == []
    start = await site.browser.post(
        link.split("?", 1)[0], data={"state": _state(link)}, follow_redirects=False
    )
    assert start.status_code == 303


def test_a_binding_cookie_verifies_only_for_the_link_it_was_signed_for() -> None:
    """Mutation (issue 29): the signature not covering the link (``_sign`` ignoring ``state_hash``)
    passed, as no test showed a cookie correctly signed for another link. End to end the state row's
    nonce hash refuses such a cookie as well (the test above), so the signature's own promise, one
    cookie for one link from this deployment, is checked here on BrowserBinding itself."""
    binding = BrowserBinding(SECRET)
    first, second = hash_state("state-one"), hash_state("state-two")
    issued = binding.issue(first)
    assert binding.verify(issued.cookie, first) == issued.nonce_hash
    assert binding.verify(issued.cookie, second) is None
    # Signed with another deployment's secret, or with the signature cut or altered: refused.
    assert BrowserBinding("another secret").verify(issued.cookie, first) is None
    nonce, _, signature = issued.cookie.partition(".")
    assert binding.verify(nonce, first) is None
    assert binding.verify(f"{nonce}.{'0' * len(signature)}", first) is None
    assert binding.verify(f"{nonce}x.{signature}", first) is None


def test_a_binding_cookie_from_the_running_version_verifies_after_an_upgrade() -> None:
    """The cookie is a wire format: a browser holding one while postbot is redeployed must still be
    let through. Its key is HMAC-SHA256(secret, "postbot oauth browser binding v1") and its
    signature HMAC-SHA256(key, "<state hash>.<nonce>"), computed here from that description.
    Survivors of tools/mutation.py oauth-binding: the key's label dropped or altered."""
    key = hmac.new(SECRET.encode(), b"postbot oauth browser binding v1", hashlib.sha256).digest()
    state_hash, nonce = hash_state("a state"), "n" * 43
    signature = hmac.new(key, f"{state_hash}.{nonce}".encode(), hashlib.sha256).hexdigest()
    expected = hashlib.sha256(nonce.encode()).hexdigest()
    assert BrowserBinding(SECRET).verify(f"{nonce}.{signature}", state_hash) == expected


async def test_a_victim_cannot_be_made_to_complete_an_attackers_link(site: Site) -> None:
    """Login CSRF: the attacker runs the flow to the provider in their browser and sends the callback
    URL to the admin. Without the attacker's cookie the admin's browser links nothing."""
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    callback = await site.provider_redirect(link)  # site.browser plays the attacker here
    async with httpx.AsyncClient(timeout=10) as victim:
        page = await victim.get(callback)
        assert page.status_code == 403
        assert (await victim.get(link)).status_code == 403  # nor can it open the link itself
    assert await site.accounts() == [] and site.fake.token_calls == []


async def test_link_pages_cannot_be_framed_and_cookie_is_secure_over_https(site: Site) -> None:
    """Issue 11 point 8: no OAuth page may be framed (clickjacking the confirmation button)."""
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    responses = [
        await site.browser.get(link),
        await site.browser.get(f"{site.server.url}/oauth/youtube/start?state=forged"),
        await site.browser.get(f"{site.server.url}/oauth/youtube/callback?state=forged&code=x"),
        await site.browser.post(f"{site.server.url}/oauth/youtube/start", data={"state": "forged"}),
        await site.browser.get(f"{site.server.url}/oauth/myspace/start?state=x"),
    ]
    for response in responses:
        assert response.headers["x-frame-options"] == "DENY", response.url
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], response.url

    https = site.settings.model_copy(update={"web": WebSettings(public_url="https://postbot.example")})
    linker = AccountLinker(https, site.sessions, site.vault, OAuthClients(https, site.http), clock=site.clock)
    server = WebServer("127.0.0.1", 0)
    await server.start(build_web_app(Postbot(https, site.sessions, linker=linker)))
    try:
        secure_link = await linker.start_link(ADMIN, Platform.YOUTUBE)
        path = secure_link.removeprefix("https://postbot.example")
        page = await site.http.get(f"{server.url}{path}")
        assert page.status_code == 200
        assert "secure" in {p.strip().lower() for p in page.headers["set-cookie"].split(";")}
    finally:
        await server.stop()


async def test_a_victims_code_pasted_into_another_teams_callback_links_nothing(site: Site) -> None:
    """Issue 11 point 4: the attacker, admin of their own team, opens their own link in their own
    browser, then redeems the code Google issued to the victim's flow at their own callback. PKCE
    ties the code to the victim's verifier, so the exchange fails and no channel is linked."""
    attacker = ChatContext(chat=ChatKind.CONSOLE, team_id="T-evil", user_id="U-evil", is_admin=True)
    evil_link = await site.linker.start_link(attacker, Platform.YOUTUBE)
    async with httpx.AsyncClient(timeout=10) as evil_browser:
        assert (await evil_browser.get(evil_link)).status_code == 200  # bound to the attacker's browser
        victim_callback = await site.provider_redirect(await site.linker.start_link(ADMIN, Platform.YOUTUBE))
        code = parse_qs(urlsplit(victim_callback).query)["code"][0]
        pasted = await evil_browser.get(
            f"{site.server.url}/oauth/youtube/callback?state={_state(evil_link)}&code={code}"
        )
    assert pasted.status_code == 502 and "Nothing was linked" in pasted.text
    assert [(c.grant_type, c.status) for c in site.fake.token_calls] == [("authorization_code", 400)]
    assert site.fake.protocol_errors == ["code_verifier does not match the code_challenge"]
    assert await site.accounts() == []


async def test_a_confirmation_body_sent_a_byte_at_a_time_is_cut_off_and_the_link_still_works(
    site: Site,
) -> None:
    """The web server's head deadline hands a request to the app once its head is in; the Slack route
    then has its own body deadline, the confirmation form had none: a POST declaring 200 bytes and
    sending one every 0.2 s held its connection for 40 s. Now the form has the head's budget."""
    import asyncio
    import time

    site.settings.web.header_timeout_s = 0.6
    link = await site.linker.start_link(ADMIN, Platform.YOUTUBE)
    assert (await site.browser.get(link)).status_code == 200
    cookie = site.browser.cookies.get("postbot_link", path="/oauth/youtube/")
    reader, writer = await asyncio.open_connection(site.server.host, site.server.port)
    head = (
        "POST /oauth/youtube/start HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n"
        f"Cookie: postbot_link={cookie}\r\n\r\n"
    )
    writer.write(head.encode())
    await writer.drain()
    started = time.monotonic()

    async def trickle() -> None:
        for byte in f"state={_state(link)}".encode().ljust(200, b"x"):
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.2)

    sending = asyncio.create_task(trickle())
    reset = False
    try:
        async with asyncio.timeout(5):
            answer = b""
            try:
                while piece := await reader.read(4096):
                    answer += piece
            except ConnectionResetError:
                # The server closed with trickled bytes unread, so its kernel sent a reset, which
                # can overtake the 408 (asyncio's reader raises before handing over what it holds).
                # Closed all the same; the 408 is checked whenever it arrives.
                reset = True
        assert time.monotonic() - started < 3
        assert (reset and answer == b"") or answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        sending.cancel()
        writer.close()
    assert site.fake.authorize_requests == []
    # Nothing of the link was spent: the admin's own browser goes on to the provider.
    start = await site.browser.post(
        link.split("?", 1)[0], data={"state": _state(link)}, follow_redirects=False
    )
    assert start.status_code == 303
