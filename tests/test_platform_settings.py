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
from core.errors import ConfigError
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


def test_a_platform_s_own_keys_come_from_its_settings_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each [platforms.<name>] section is read with the model of core/platforms/<name>/settings.py:
    its own keys from the file and the environment, its own defaults, and a typo refused."""
    config = tmp_path / "postbot.toml"
    config.write_text('[platforms.tiktok]\npull_from_url_prefixes = ["https://cdn.example.com/v/"]\n')
    monkeypatch.setenv("POSTBOT_CONFIG", str(config))
    monkeypatch.setenv("POSTBOT_PLATFORMS__LINKEDIN__CAN_LIST_POSTS", "true")
    settings = load_settings()
    assert settings.platforms.tiktok.pull_from_url_prefixes == ["https://cdn.example.com/v/"]
    assert settings.platforms.linkedin.can_list_posts is True
    # YouTube's and TikTok's models send bigger upload pieces than the common default.
    assert settings.platforms.youtube.chunk_size_bytes == 32 * 1024 * 1024
    assert settings.platforms.x.chunk_size_bytes == PlatformSettings().chunk_size_bytes
    # A key of one platform is not another's.
    assert not hasattr(settings.platforms.x, "pull_from_url_prefixes")
    monkeypatch.setenv("POSTBOT_PLATFORMS__TIKTOK__PULL_FROM_URL_PREFIXES", "not a list")
    with pytest.raises(ConfigError, match=r"platforms.*written in JSON"):
        load_settings()


def test_a_section_built_as_the_common_model_keeps_its_values() -> None:
    """Tests and tools build a section as ``PlatformSettings(...)``: it becomes the platform's model,
    keeping every value given, with that platform's defaults for the rest."""
    platforms = PlatformsSettings(tiktok=PlatformSettings(max_attempts=2, chunk_size_bytes=1024))
    tiktok = platforms.for_platform("tiktok")
    assert type(tiktok).__name__ == "TikTokSettings"
    assert (tiktok.max_attempts, tiktok.chunk_size_bytes) == (2, 1024)
    assert platforms.section("tiktok", type(tiktok)).pull_from_url_prefixes == []
    assert [name for name, _ in platforms] == [p.value for p in Platform]
