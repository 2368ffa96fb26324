"""The Graph API's versions and the dates Meta stops serving them: one table for every platform that
puts a Graph version in its URLs (``graph.<host>/vNN.0``), since Meta versions the Graph API as a whole.

Dates: the "Available Graph API versions" table of Meta's changelog
(https://developers.facebook.com/docs/graph-api/changelog/versions), read 6 Dec 2026. Each version
lives at least two years, until two years after the next one's release
(https://developers.facebook.com/docs/graph-api/guides/versioning). A call to an expired version is
not refused: Meta serves it with the oldest version still available and says which in the
``facebook-api-version`` response header, so an expired default changes behaviour silently: hence
the warning before the date. v26.0 has no expiry date yet ("TBD").

Each platform keeps its own default and setting (its versions.py), so the settings move
independently; only Meta's table is shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from core.config import PlatformSettings
from core.platforms.versions import ApiVersion, ApiVersions, configured_setting

READ_ON = date(2026, 12, 6)
VERSIONS = (
    ApiVersion("v26.0", None),
    ApiVersion("v25.0", date(2028, 7, 29)),
    ApiVersion("v24.0", date(2028, 2, 18)),
    ApiVersion("v23.0", date(2027, 10, 8)),
    ApiVersion("v22.0", date(2027, 5, 20)),
    ApiVersion("v21.0", date(2027, 1, 21)),
    ApiVersion("v20.0", date(2026, 9, 24)),
)
_IN_URL = re.compile(r"/(v\d+\.\d+)/?$")


def configured_by(default: str) -> Callable[[PlatformSettings], str]:
    """The version a platform's settings ask for: an explicit base URL carries its own
    (``https://graph.<host>/v23.0``), else ``api_version``, else ``default``."""

    def configured(conf: PlatformSettings) -> str:
        if conf.base_url and (found := _IN_URL.search(conf.base_url)):
            return found.group(1)
        return configured_setting(conf, default)

    return configured


def graph_versions(*, setting: str, default: str, source: str) -> ApiVersions:
    """Meta's table for one platform's setting and default; ``source`` is the changelog's address
    (above), which the platform names: a string here may not name the host it is on."""
    return ApiVersions(
        carrier="Graph API path",
        setting=setting,
        default=default,
        versions=VERSIONS,
        source=source,
        read_on=READ_ON,
        configured=configured_by(default),
    )
