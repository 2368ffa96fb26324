"""The Graph API versions postbot may put in Instagram's URLs (``graph.instagram.com/vNN.0``), with
the dates Meta stops serving them: Meta's one table for the Graph API (core/platforms/graph_versions.py,
with its sources). The default is the newest version with a published expiry date (v26.0's is "TBD");
``platforms.instagram.api_version`` or an explicit base URL (``https://graph.instagram.com/v23.0``)
asks for another.
"""

from __future__ import annotations

from core.platforms.graph_versions import configured_by, graph_versions

DEFAULT = "v25.0"
SOURCE = "https://developers.facebook.com/docs/graph-api/changelog/versions"
__all__ = ["DEFAULT", "SOURCE", "VERSIONS", "configured"]

configured = configured_by(DEFAULT)
VERSIONS = graph_versions(setting="platforms.instagram.api_version", default=DEFAULT, source=SOURCE)
