"""The Graph API versions postbot may put in Facebook's URLs (``graph.facebook.com/vNN.0``), with the
dates Meta stops serving them.

Dates: the "Available Graph API versions" table of Meta's changelog
(https://developers.facebook.com/docs/graph-api/changelog/versions), read 6 Dec 2026. Each version
lives at least two years, until two years after the next one's release
(https://developers.facebook.com/docs/graph-api/guides/versioning). A call to an expired version is
not refused: Meta serves it with the oldest version still available and says which in the
``facebook-api-version`` response header, so an expired default changes behaviour silently: hence
the warning before the date. v26.0 has no expiry date yet ("TBD"), so the default is the newest
version with a published one. Instagram keeps its own copy of this table
(core/platforms/instagram/versions.py): each platform is one folder, and the two settings move
independently.
"""

from __future__ import annotations

import re
from datetime import date

from core.config import PlatformSettings
from core.platforms.versions import ApiVersion, ApiVersions, configured_setting

DEFAULT = "v25.0"
SOURCE = "https://developers.facebook.com/docs/graph-api/changelog/versions"
_IN_URL = re.compile(r"/(v\d+\.\d+)/?$")


def configured(conf: PlatformSettings) -> str:
    """An explicit base URL carries its own version (``https://graph.facebook.com/v23.0``)."""
    if conf.base_url and (found := _IN_URL.search(conf.base_url)):
        return found.group(1)
    return configured_setting(conf, DEFAULT)


VERSIONS = ApiVersions(
    carrier="Graph API path",
    setting="platforms.facebook.api_version",
    default=DEFAULT,
    versions=(
        ApiVersion("v26.0", None),
        ApiVersion("v25.0", date(2028, 7, 29)),
        ApiVersion("v24.0", date(2028, 2, 18)),
        ApiVersion("v23.0", date(2027, 10, 8)),
        ApiVersion("v22.0", date(2027, 5, 20)),
        ApiVersion("v21.0", date(2027, 1, 21)),
        ApiVersion("v20.0", date(2026, 9, 24)),
    ),
    source=SOURCE,
    read_on=date(2026, 12, 6),
    configured=configured,
)
