"""Linking Facebook Pages through the real web process: the browser follows postbot's link to the fake
Facebook Login dialog and back; each Page chosen there becomes its own account with its own Page
token, and the long-lived User token renews a Page token Graph stops taking. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.console.commands import ConsoleNotifier
from adapters.web import WebServer, build_web_app
from core.accounts.linking import AccountLinker
from core.accounts.store import load_tokens
from core.accounts.tokens import TokenSources
from core.config import PlatformSettings, PlatformsSettings, Settings, VaultSettings, WebSettings
from core.crypto import Vault
from core.crypto.keys import MIN_ITERATIONS
from core.db.engine import make_engine, migrate, session_factory
from core.db.models import SocialAccount
from core.domain import AccountStatus, ChatContext, ChatKind, Platform
from core.notify import NotifierRouter
from core.oauth import OAuthClients
from core.publishers.base import AuthError
from core.service import Postbot
from tests.conftest import Database
from tests.fakes.facebook_api import FakeFacebook

ADMIN = ChatContext(chat=ChatKind.CONSOLE, team_id="T1", user_id="U-admin", user_name="ada", is_admin=True)
VIDEOS, SHOP, FANS = "104000000000001", "104000000000002", "104000000000003"


@dataclass
class Site:
    fake: FakeFacebook
    server: WebServer
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    linker: AccountLinker
    vault: Vault
    browser: httpx.AsyncClient
    http: httpx.AsyncClient
    dms: list[str] = field(default_factory=list)

    async def accounts(self) -> list[SocialAccount]:
        async with self.sessions() as session:
            rows = await session.execute(select(SocialAccount).order_by(SocialAccount.id))
            return list(rows.scalars())

    async def link(self) -> httpx.Response:
        """What the admin does: ask for a link, open it, confirm, go through Facebook's dialog."""
        link = await self.linker.start_link(ADMIN, Platform.FACEBOOK)
        confirmation = await self.browser.get(link)
        assert confirmation.status_code == 200, confirmation.text
        state = parse_qs(urlsplit(link).query)["state"][0]
        return await self.browser.post(link.split("?", 1)[0], data={"state": state})


@pytest.fixture
async def site(db: Database, settings: Settings) -> AsyncIterator[Site]:
    fake = await FakeFacebook().start()
    server = WebServer("127.0.0.1", 0)
    conf = settings.model_copy(
        update={
            "secret_key": SecretStr("vault secret for the facebook linking tests"),
            "vault": VaultSettings(iterations=MIN_ITERATIONS),
            "web": WebSettings(public_url=server.url),
            "platforms": PlatformsSettings(facebook=PlatformSettings(**fake.platform_settings())),
        }
    )
    engine = make_engine(db.url, schema=db.schema)
    await migrate(engine)
    sessions = session_factory(engine)
    vault = Vault.from_settings(conf)
    http = httpx.AsyncClient(timeout=10)
    dms: list[str] = []
    notifier = NotifierRouter({ChatKind.CONSOLE: ConsoleNotifier(dms.append)})
    linker = AccountLinker(conf, sessions, vault, OAuthClients(conf, http), notifier)
    await server.start(build_web_app(Postbot(conf, sessions, linker=linker)))
    browser = httpx.AsyncClient(timeout=10, follow_redirects=True)
    yield Site(fake, server, engine, sessions, linker, vault, browser, http, dms)
    await browser.aclose()
    await http.aclose()
    await server.stop()
    await fake.stop()
    await engine.dispose()


async def test_each_chosen_page_is_its_own_account_with_its_own_page_token(site: Site) -> None:
    page = await site.link()

    assert page.status_code == 200, page.text
    assert "postbot can now post as acmevideos and acmeshop for T1" in page.text
    videos, shop = await site.accounts()
    # Acme Fans was chosen too, but its person cannot create content there: not an account.
    assert [(a.remote_account_id, a.display_name) for a in (videos, shop)] == [
        (VIDEOS, "acmevideos"),
        (SHOP, "acmeshop"),
    ]
    for row, page_id in ((videos, VIDEOS), (shop, SHOP)):
        tokens = load_tokens(row, site.vault)
        assert site.fake._page_of(tokens.access_token) == page_id
        assert tokens.refresh_token in site.fake.user_tokens, "the long-lived User token, kept to renew"
        assert tokens.expires_at is None, "a Page token from a long-lived User token does not expire"
        assert row.scopes and "pages_manage_posts" in row.scopes
    # The code was traded for a short token, at once exchanged for a long-lived one.
    assert site.fake.token_calls == ["authorization_code", "fb_exchange_token"]
    sent = site.fake.authorize_requests[0]
    assert sent["scope"] == "pages_show_list,pages_read_engagement,pages_manage_posts,business_management"
    [dm] = site.dms
    assert dm.startswith("[DM] Facebook linked as acmevideos and acmeshop for T1 (local console).")
    assert "facebook@<page>" in dm


async def test_a_page_reached_through_a_business_portfolio_is_linked_too(site: Site) -> None:
    # Under the New Pages Experience a Page's admin often holds it through a Business Portfolio, and
    # /me/accounts then leaves it out: the portfolio's owned_pages/client_pages have it.
    site.fake.pages[VIDEOS].portfolio = "880000000000001"
    site.fake.pages[SHOP].portfolio, site.fake.pages[SHOP].via = "880000000000002", "client_pages"

    page = await site.link()

    assert page.status_code == 200, page.text
    videos, shop = await site.accounts()
    assert (videos.remote_account_id, shop.remote_account_id) == (VIDEOS, SHOP)
    for row, page_id in ((videos, VIDEOS), (shop, SHOP)):
        assert site.fake._page_of(load_tokens(row, site.vault).access_token) == page_id


async def test_a_dead_page_token_is_renewed_with_the_user_token_and_a_dead_login_revokes(site: Site) -> None:
    await site.link()
    videos, _ = await site.accounts()
    source = TokenSources(site.sessions, site.vault, site.linker.oauth)(videos)
    old = await source.access_token()

    site.fake.expire_page_tokens()
    fresh = await source.refresh()

    assert fresh != old and site.fake._page_of(fresh) == VIDEOS
    assert load_tokens((await site.accounts())[0], site.vault).access_token == fresh, "written back"

    site.fake.revoke_user()
    with pytest.raises(AuthError) as failed:
        await source.refresh()
    assert "re-link" in failed.value.message or "link" in (failed.value.hint or "")
    assert (await site.accounts())[0].status == AccountStatus.REVOKED.value


async def test_a_declined_permission_links_nothing_and_says_which(site: Site) -> None:
    site.fake.granted = ["pages_show_list", "pages_read_engagement"]

    page = await site.link()

    assert page.status_code == 502
    assert "pages_manage_posts" in page.text
    assert await site.accounts() == []


async def test_linking_again_adds_a_page_without_doubling_the_first(site: Site) -> None:
    site.fake.chosen = [VIDEOS]
    await site.link()
    [first] = await site.accounts()

    site.fake.chosen = [VIDEOS, SHOP]
    page = await site.link()

    assert page.status_code == 200
    videos, shop = await site.accounts()
    assert videos.id == first.id and shop.remote_account_id == SHOP


async def test_no_page_to_post_to_is_refused_clearly(site: Site) -> None:
    site.fake.chosen = [FANS]

    page = await site.link()

    assert page.status_code == 502
    assert "no Page to post to" in page.text
    assert await site.accounts() == []


async def test_pages_listed_over_several_answers_are_all_linked(site: Site) -> None:
    site.fake.accounts_limit = 1
    site.fake.chosen = [VIDEOS, FANS, SHOP]

    page = await site.link()

    assert page.status_code == 200, page.text
    assert [a.remote_account_id for a in await site.accounts()] == [VIDEOS, SHOP]
    assert sum(r.path.endswith("/me/accounts") for r in site.fake.requests) == 3


async def test_a_next_page_elsewhere_never_gets_the_user_token(site: Site) -> None:
    """``paging.next`` is a full URL the answer names; the User token goes only to Graph itself."""
    import asyncio

    seen: list[bytes] = []

    async def listen(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(4096))
        writer.close()

    elsewhere = await asyncio.start_server(listen, "127.0.0.1", 0)
    port = elsewhere.sockets[0].getsockname()[1]
    try:
        site.fake.accounts_limit = 1
        site.fake.chosen = [VIDEOS, SHOP]
        site.fake.accounts_next = f"http://127.0.0.1:{port}/v25.0/me/accounts?after=1"
        page = await site.link()
    finally:
        elsewhere.close()
        await elsewhere.wait_closed()
    assert seen == []
    # What Graph itself listed is linked; the rest of the list was not to be had.
    assert page.status_code == 200, page.text
    assert [a.remote_account_id for a in await site.accounts()] == [VIDEOS]


async def test_a_next_page_that_never_ends_is_not_followed_for_ever(site: Site) -> None:
    import asyncio

    site.fake.chosen = [VIDEOS]
    site.fake.accounts_next = f"{site.fake.base_url}/v25.0/me/accounts?after=0"
    page = await asyncio.wait_for(site.link(), 30)
    assert page.status_code == 200, page.text
    assert [a.remote_account_id for a in await site.accounts()] == [VIDEOS]
    assert sum(r.path.endswith("/me/accounts") for r in site.fake.requests) <= 20
