"""The LinkedIn Marketing API versions postbot may send in ``LinkedIn-Version``, with their sunsets.

LinkedIn releases a version a month and serves each "for a minimum of one year" before sunset
(https://learn.microsoft.com/en-us/linkedin/marketing/versioning); a sunset version is answered
426 ``NONEXISTENT_VERSION`` on every call. The dates are LinkedIn's "API Migration Status" table
(https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations), read 6 Dec 2026.
There is no 202512: the table goes from 202511 to 202601. Newer versions (202604 on) exist but
their sunset dates were not on the page yet; add them here with their dates as LinkedIn publishes
them, and move DEFAULT to the newest.
"""

from __future__ import annotations

from datetime import date

from core.platforms.versions import ApiVersion, ApiVersions, configured_setting

DEFAULT = "202603"
SOURCE = "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations"

VERSIONS = ApiVersions(
    carrier="LinkedIn-Version header",
    setting="platforms.linkedin.api_version",
    default=DEFAULT,
    versions=(
        ApiVersion("202603", date(2027, 3, 16)),
        ApiVersion("202602", date(2027, 2, 15)),
        ApiVersion("202601", date(2027, 1, 15)),
        ApiVersion("202511", date(2026, 11, 16)),
        ApiVersion("202510", date(2026, 10, 15)),
    ),
    source=SOURCE,
    read_on=date(2026, 12, 6),
    configured=lambda conf: configured_setting(conf, DEFAULT),
)
