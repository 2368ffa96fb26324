"""Facebook Login for Pages: one consent, one account per Page the person chose.

The flow (https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow and
https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived, read 6 Dec
2026):

1. The Login dialog (``www.facebook.com/{version}/dialog/oauth``) asks for the Page permissions the
   Video API and the Reels Publishing API list: ``pages_show_list``, ``pages_read_engagement`` and
   ``pages_manage_posts`` (https://developers.facebook.com/docs/video-api/guides/publishing,
   Requirements; the reels guide lists the same three), and ``business_management`` for Pages held
   through a Business Portfolio (``BUSINESS_MANAGEMENT`` below). In that dialog the person also chooses which
   of their Pages postbot may use: ``GET /me/accounts`` then "returns any Pages that you authorized
   your app to access" (https://developers.facebook.com/docs/video-api/get-started). So a person
   who manages several Pages picks them there, and each chosen Page becomes its own postbot account
   (``facebook@<page>``). Postiz reads the same list after the same exchange
   (libraries/nestjs-libraries/src/integrations/social/facebook.provider.ts, ``pages()``).
2. The code buys a short-lived User token (``GET /oauth/access_token?code=...``), which is exchanged
   at once for a long-lived one (``grant_type=fb_exchange_token``, about 60 days).
3. ``GET /me/accounts?fields=id,name,username,access_token,tasks`` with the long-lived User token
   gives each Page's token. "Page access tokens obtained with a long-lived User access token have no
   expiration date" (get-long-lived, "Long-lived Page access token"): that is what postbot posts with.
   A Page whose ``tasks`` lack ``CREATE_CONTENT`` cannot be posted to ("A Page access token requested
   by a person who can perform the CREATE_CONTENT task on the Page", the Video API guide) and is left
   out.

A Page token can still die (a password change, the person losing the Page, the app removed): Graph
then answers code 190. "Refreshing" asks for the Page's token again with the long-lived User token
kept as the account's refresh token (``GET /{page-id}?fields=access_token``); when that token is dead
too, the account is marked revoked and an admin links it again. There is no revoke call: withdrawing
the app (``DELETE /me/permissions``) would cut every Page of the same login at once, so unlinking
one Page deletes its tokens here and the person removes the app in Facebook's settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from core.config import PlatformSettings
from core.domain import Platform
from core.oauth.endpoints import Endpoints
from core.oauth.errors import InvalidGrant, OAuthError
from core.oauth.graph import GraphOAuth
from core.oauth.models import Profile, TokenSet
from core.platforms.facebook import versions

GRAPH = "https://graph.facebook.com"
DIALOG = "https://www.facebook.com"
GRAPH_VERSION = versions.DEFAULT
CREATE_CONTENT = "CREATE_CONTENT"
# /me/accounts answers of 100 Pages followed at most: a list that never ends is not read for ever.
_MAX_ACCOUNT_PAGES = 20
# /me/accounts lists only the Pages the person holds a classic Page role on; a Page they manage through
# a Business Portfolio (the New Pages Experience's usual arrangement) is missing there, and is read
# from the portfolio's owned_pages and client_pages behind /me/businesses, which need
# business_management. Two independent schedulers met this on live accounts and fixed it so:
# trypost (github.com/trypostit/trypost/pull/301: "the edge answers 200 with data: []", the Page node
# itself answering fine) and openpost (getopenpost/openpost#216, #217); Postiz asks for
# business_management and reads the same edges (facebook.provider.ts, pages()). Meta's Video API
# guide lists only the three Page permissions, so this fourth one is the clients' finding, not Meta's.
BUSINESS_MANAGEMENT = "business_management"
PORTFOLIO_EDGES = ("owned_pages", "client_pages")


def _endpoints(version: str) -> Endpoints:
    return Endpoints(
        authorize=f"{DIALOG}/{version}/dialog/oauth",
        token=f"{GRAPH}/{version}/oauth/access_token",
        revoke=None,
        profile=f"{GRAPH}/{version}/me/accounts",
    )


class FacebookOAuth(GraphOAuth):
    platform = Platform.FACEBOOK
    defaults = _endpoints(GRAPH_VERSION)
    default_scopes = ("pages_show_list", "pages_read_engagement", "pages_manage_posts", BUSINESS_MANAGEMENT)
    scope_separator = ","
    # Facebook Login refuses http redirect URIs other than localhost in development, and postbot's
    # callback must be listed under "Valid OAuth Redirect URIs" with "Enforce HTTPS" on
    # (https://developers.facebook.com/docs/facebook-login/security#surfacearea): no loopback.
    loopback_redirect = False

    @classmethod
    def defaults_for(cls, settings: PlatformSettings) -> Endpoints:
        return _endpoints(settings.api_version or GRAPH_VERSION)

    @property
    def _graph(self) -> str:
        """``https://graph.facebook.com/v25.0``: the profile endpoint without ``/me/accounts``."""
        profile = self.endpoints.profile
        return profile[: -len("/me/accounts")] if profile.endswith("/me/accounts") else _origin(profile)

    # Graph's error envelope and dead tokens (190 and kin) are read in core/oauth/graph.py; a used or
    # expired authorization code is code 100 with HTTP 400.

    # -- tokens ------------------------------------------------------------------------------------

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        short = await self._token_get(
            "authorization_code",
            {
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        return await self._token_get(
            "fb_exchange_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "fb_exchange_token": short.access_token,
            },
        )

    async def _token_get(self, grant: str, params: dict[str, str]) -> TokenSet:
        # GETs with the secret in the query, as the manual flow documents; httpx logs stay at WARNING.
        response = await self._send("GET", self.endpoints.token, params=params)
        payload = self._json(response)
        self._raise_for_error(response, payload, grant=grant)
        return self.parse_token(payload)

    def can_refresh(self, tokens: TokenSet) -> bool:
        return tokens.refresh_token is not None and tokens.account_hint is not None

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        """The Page's token asked again with the long-lived User token (see the module's docstring)."""
        if not tokens.refresh_token or not tokens.account_hint:
            raise OAuthError("Facebook gave no User token to renew this Page's access with")
        payload = await self._graph_get(
            f"{self._graph}/{tokens.account_hint}",
            tokens.refresh_token,
            {"fields": "access_token"},
            grant="refresh_token",
        )
        page_token = payload.get("access_token")
        if not isinstance(page_token, str) or not page_token:
            # The person no longer manages the Page: its token is not handed out any more.
            raise InvalidGrant(
                "Facebook no longer gives postbot this Page's token (the person who linked it may have lost "
                "access to the Page)",
                error="invalid_grant",
            )
        return replace(tokens, access_token=page_token)

    async def _graph_get(
        self, url: str, token: str, params: dict[str, str] | None, *, grant: str
    ) -> dict[str, Any]:
        # No params for a URL that carries its own query (paging.next): httpx would replace it.
        extra = {"params": params} if params is not None else {}
        response = await self._send("GET", url, headers={"Authorization": f"Bearer {token}"}, **extra)
        payload = self._json(response)
        if response.status_code >= 400 or "error" in payload:
            self._raise_for_error(response, payload, grant=grant)
        return payload

    # -- Pages -------------------------------------------------------------------------------------

    async def fetch_accounts(self, tokens: TokenSet) -> list[tuple[Profile, TokenSet]]:
        """One account per Page the person chose in the dialog and may post to."""
        granted = await self._granted(tokens.access_token)
        missing = [s for s in self.scopes if s not in granted]
        if missing:
            raise OAuthError(
                f"Facebook Login did not grant {', '.join(missing)}, which posting to a Page needs; "
                "link again "
                "and leave every permission on"
            )
        accounts: list[tuple[Profile, TokenSet]] = []
        seen: set[str] = set()

        def add(page: Any, *, tasks_listed: bool) -> None:
            if not isinstance(page, dict):
                return
            # A portfolio's Page lists carry no tasks: a Page the person may not post to is then
            # refused by Facebook at the first post (code 10 or 200, "re-link" with the hint).
            if tasks_listed and CREATE_CONTENT not in (page.get("tasks") or []):
                return
            page_id, page_token = str(page.get("id") or ""), page.get("access_token")
            if not page_id or page_id in seen or not isinstance(page_token, str) or not page_token:
                return
            seen.add(page_id)
            name = str(page.get("name") or page_id)
            profile = Profile(
                account_id=page_id, display_name=name, handle=str(page.get("username") or page_id)
            )
            accounts.append(
                (
                    profile,
                    TokenSet(
                        access_token=page_token,
                        # The long-lived User token: what asks for a new Page token (refresh).
                        refresh_token=tokens.access_token,
                        # A Page token from a long-lived User token does not expire.
                        expires_at=None,
                        scope=",".join(sorted(granted)),
                        account_hint=page_id,
                    ),
                )
            )

        fields = {"fields": "id,name,username,access_token,tasks", "limit": "100"}
        for page in await self._list(self.endpoints.profile, tokens.access_token, fields):
            add(page, tasks_listed=True)
        if BUSINESS_MANAGEMENT in granted:
            businesses = await self._list(
                f"{self._graph}/me/businesses", tokens.access_token, {"limit": "100"}
            )
            for business in businesses:
                business_id = str(business.get("id") or "") if isinstance(business, dict) else ""
                for edge in PORTFOLIO_EDGES if business_id.isdigit() else ():
                    found = await self._list(
                        f"{self._graph}/{business_id}/{edge}",
                        tokens.access_token,
                        {"fields": "id,name,username,access_token", "limit": "100"},
                    )
                    for page in found:
                        add(page, tasks_listed=False)
        if not accounts:
            raise OAuthError(
                "Facebook gave postbot no Page to post to: choose at least one Page you can create "
                "content on "
                "when Facebook asks which Pages postbot may use"
            )
        return accounts

    async def _list(self, url: str, token: str, params: dict[str, str]) -> list[Any]:
        """Every entry of a Graph list, following ``paging.next`` as Graph names it (no params of our
        own then), on Graph's origin only and for at most ``_MAX_ACCOUNT_PAGES`` answers."""
        entries: list[Any] = []
        next_url: str | None = url
        query: dict[str, str] | None = params
        graph = _origin(self.endpoints.profile)
        for _ in range(_MAX_ACCOUNT_PAGES):
            # paging.next is a full URL the answer names: the User token goes to Graph only.
            if not next_url or _origin(next_url) != graph:
                break
            payload = await self._graph_get(next_url, token, query, grant="profile")
            entries.extend(payload.get("data") or [])
            next_url = (payload.get("paging") or {}).get("next")
            query = None
        return entries

    async def _granted(self, user_token: str) -> set[str]:
        # GET /me/permissions → {"data": [{"permission", "status": "granted" | "declined"}]}
        # (https://developers.facebook.com/docs/facebook-login/guides/permissions/request-revoke).
        payload = await self._graph_get(f"{self._graph}/me/permissions", user_token, {}, grant="profile")
        return {
            str(p.get("permission"))
            for p in payload.get("data") or []
            if isinstance(p, dict) and p.get("status") == "granted"
        }

    async def fetch_profile(self, tokens: TokenSet) -> Profile:
        return (await self.fetch_accounts(tokens))[0][0]

    async def revoke(self, tokens: TokenSet) -> bool:
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
