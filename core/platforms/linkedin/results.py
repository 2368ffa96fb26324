"""A member's post results on LinkedIn, where the API has them at all.

For member (personal) posts LinkedIn offers one source: the Member Post Statistics API,
``GET /rest/memberCreatorPostAnalytics?q=entity&entity=(share:{urn})&queryType=...&aggregation=TOTAL``,
one metric per call (IMPRESSION, MEMBERS_REACHED, RESHARE, REACTION, COMMENT), with the permission
``r_member_postAnalytics``
(https://learn.microsoft.com/en-us/linkedin/marketing/community-management/members/post-statistics,
read 2026-12-06). That permission belongs to the Community Management API, which LinkedIn grants
only after reviewing the app; the self-serve products postbot's LinkedIn app uses ("Share on
LinkedIn", "Sign In with LinkedIn using OpenID Connect": ``openid profile w_member_social``) give no
read access to a post's numbers. So unless the deployment's app was approved and its
``[platforms.linkedin.oauth] scopes`` ask for ``r_member_postAnalytics``, accounts lack the scope and
their posts' results are "not available" (docs/platforms.md says so); nothing is made up.

IMPRESSION stands in for views (LinkedIn reports no separate video view count here), REACTION for
likes, COMMENT for comments: three calls per post.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import httpx

from core.config import PlatformSettings
from core.domain import Platform
from core.platforms.linkedin.publisher import DEFAULT_API_VERSION, DEFAULT_BASE_URL, _error, _explain
from core.platforms.results import Metrics, count
from core.publishers.base import TokenSource
from core.publishers.http import send_authorized

ANALYTICS_SCOPE = "r_member_postAnalytics"
QUERY_TYPES = ("IMPRESSION", "REACTION", "COMMENT")


class LinkedInMetrics:
    platform = Platform.LINKEDIN
    scopes: tuple[str, ...] = (ANALYTICS_SCOPE,)

    def __init__(
        self, http: httpx.AsyncClient, base_url: str | None = None, api_version: str = DEFAULT_API_VERSION
    ) -> None:
        self.http = http
        self.api = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/rest"
        self.api_version = api_version

    async def read(self, tokens: TokenSource, remote_ids: Sequence[str]) -> dict[str, Metrics]:
        found: dict[str, Metrics] = {}
        for urn in remote_ids:
            counts: dict[str, int | None] = {}
            gone = False
            for query_type in QUERY_TYPES:
                response = await self._ask(tokens, urn, query_type)
                if response.status_code == 404:
                    gone = True
                    break
                if response.status_code != 200:
                    raise _error(response, f"LinkedIn refused to read post statistics: {_explain(response)}")
                elements = response.json().get("elements") or []
                counts[query_type] = count(elements[0].get("count")) if elements else None
            if not gone:
                found[urn] = Metrics(counts["IMPRESSION"], counts["REACTION"], counts["COMMENT"])
        return found

    async def _ask(self, tokens: TokenSource, urn: str, query_type: str) -> httpx.Response:
        # Rest.li 2.0: the finder's tuple keeps its parentheses and colon; the URN inside is encoded.
        kind = "ugcPost" if urn.startswith("urn:li:ugcPost:") else "share"
        url = (
            f"{self.api}/memberCreatorPostAnalytics?q=entity&entity=({kind}:{quote(urn, safe='')})"
            f"&queryType={query_type}&aggregation=TOTAL"
        )

        async def send(token: str) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self.api_version,
                "X-Restli-Protocol-Version": "2.0.0",
            }
            return await self.http.get(url, headers=headers)

        return await send_authorized(tokens, send)

    @classmethod
    def from_settings(cls, http: httpx.AsyncClient, conf: PlatformSettings) -> LinkedInMetrics:
        return cls(http, conf.base_url, conf.api_version or DEFAULT_API_VERSION)
