"""LinkedIn's publishing caps: none published. "LinkedIn doesn't publish standard rate limits";
each app's daily limits per member and per application are shown in the developer portal's
Analytics tab, and reset at midnight UTC
(https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits, read
6 Dec 2026). A spent limit is a 429, which the publisher waits out until midnight UTC.
"""

from __future__ import annotations

from core.platforms.caps import PublishingCap

CAPS: tuple[PublishingCap, ...] = ()
