"""Each platform's [platforms.<name>] section: the example config's URLs are the documented ones, and
API versions are settings, not constants."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from core.config import PlatformSettings, PlatformsSettings, Settings, load_settings
from core.domain import Platform
from core.oauth import OAuthClients
from core.platforms.instagram.publisher import InstagramPublisher
from core.platforms.publishers import PublisherRegistry
from core.platforms.youtube.publisher import YouTubePublisher

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
_COMMENTED_SETTING = re.compile(r'^# ((?:base_url|upload_base_url|api_version) = "[^"]*")$', re.M)


async def test_example_config_urls_uncommented_give_the_documented_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The YouTube example once read upload_base_url = ".../upload", which became /upload/upload/."""
    config = tmp_path / "postbot.toml"
    config.write_text(_COMMENTED_SETTING.sub(r"\1", EXAMPLE.read_text()))
    monkeypatch.setenv("POSTBOT_CONFIG", str(config))
    settings = load_settings()
    assert settings.platforms.youtube.upload_base_url
    async with httpx.AsyncClient() as http:
        publishers = PublisherRegistry(settings, http)
        youtube = publishers.get(Platform.YOUTUBE)
        assert isinstance(youtube, YouTubePublisher)
        # https://developers.google.com/youtube/v3/docs/videos/insert
        assert youtube.upload == "https://www.googleapis.com/upload/youtube/v3"
        instagram = publishers.get(Platform.INSTAGRAM)
        assert isinstance(instagram, InstagramPublisher)
        assert instagram.graph == "https://graph.instagram.com/v25.0"


async def test_instagram_graph_version_is_a_setting(http: httpx.AsyncClient) -> None:
    instagram = PlatformSettings(api_version="v23.0", client_id="ig", client_secret=SecretStr("s"))
    settings = Settings(platforms=PlatformsSettings(instagram=instagram))
    publisher = PublisherRegistry(settings, http).get(Platform.INSTAGRAM)
    assert isinstance(publisher, InstagramPublisher)
    assert publisher.graph == "https://graph.instagram.com/v23.0"
    oauth = OAuthClients(settings, http).get(Platform.INSTAGRAM)
    assert oauth.endpoints.profile == "https://graph.instagram.com/v23.0/me"
