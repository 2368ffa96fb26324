"""The Threads API version postbot puts in its URLs (``graph.threads.net/v1.0``), and its sunset.

Threads has one API version, ``v1.0``, used by every example of its documentation (e.g. the
publishing guide, https://developers.facebook.com/docs/threads/posts, and the troubleshooting page,
https://developers.facebook.com/docs/threads/troubleshooting), and no published sunset: unlike the
Graph API's table of versions and expiry dates (https://developers.facebook.com/docs/graph-api/
changelog/versions), the Threads changelog (https://developers.facebook.com/docs/threads/changelog)
dates features, not versions (read 2026-12-06). So there is no table for core/platforms/versions.py
to check: the spec says ``api_versions=None``, as YouTube's ``/youtube/v3`` does. When Meta
publishes a second Threads version with a sunset for v1.0, turn this into an ``ApiVersions`` table
like the Graph API's (core/platforms/graph_versions.py) and list it in the spec; until then an explicit
``[platforms.threads] base_url`` carries any other version.
"""

from __future__ import annotations

from datetime import date

DEFAULT = "v1.0"
# None: not announced (read on READ_ON).
SUNSET: date | None = None
SOURCE = "https://developers.facebook.com/docs/threads/changelog"
READ_ON = date(2026, 12, 6)
