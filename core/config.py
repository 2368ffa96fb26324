"""Settings: a TOML file (see config.example.toml) overlaid by POSTBOT_* environment variables.

Secrets (tokens, client secrets, the vault secret) are read from the environment only: a secret
found in the TOML file is an error, so nobody commits one by accident.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from core.errors import ConfigError
from core.platforms.registry import NAMES

# Every platform's section has these (re-exported: the platform packages and the tests take them
# from here).
from core.platforms.settings import OAuthSettings as OAuthSettings
from core.platforms.settings import PlatformSettings as PlatformSettings

CONFIG_ENV = "POSTBOT_CONFIG"
MIB = 1024 * 1024
DEFAULT_CONFIG_FILE = "postbot.toml"


class SchedulerSettings(BaseModel):
    # The safety-net poll; posts normally fire from a wake-up job set at their due time.
    poll_interval_s: float = 5.0
    # A claimed post whose worker vanished becomes claimable again after this long.
    lease_s: float = 300.0
    batch_size: int = 100
    # Publishes are I/O bound: many run at once per worker (128 over 50 ms calls is ~2,500 posts/s).
    max_in_flight: int = 128
    max_attempts: int = 5
    backoff_base_s: float = 2.0
    backoff_max_s: float = 900.0
    worker_id: str | None = None
    # Circuit breaker per (platform, account): consecutive transient failures that open it, and how
    # long it stays open before one probe post is let through.
    breaker_threshold: int = 5
    breaker_open_s: float = 60.0
    # How stale this worker's copy of the fleet's breakers may be (one read of them per interval).
    breaker_cache_s: float = 1.0
    # A post that would wait longer than this for its platform's rate limit goes back to the queue
    # (due when a token frees) instead of holding an in-flight slot.
    max_rate_wait_s: float = 2.0
    # Each scheduler records that it is alive this often; /health answers 503 when no scheduler has
    # been seen for heartbeat_stale_s.
    # Rate limits (platforms.<name>.rate_per_s, burst) hold for the whole fleet: the buckets live in
    # the database. False: each worker keeps its own (then set them to 1/N of the allowance).
    shared_limits: bool = True
    heartbeat_interval_s: float = 15.0
    heartbeat_stale_s: float = 60.0
    # On SIGTERM or SIGINT a process stops claiming and gives the uploads it has started this long to
    # finish; the rest are handed back to the queue at once. Under what process managers wait before
    # SIGKILL: Heroku 30 s (devcenter.heroku.com/articles/dyno-shutdown-behavior), Kubernetes' default
    # terminationGracePeriodSeconds 30 s, systemd's DefaultTimeoutStopSec 90 s (read 2026-12-06).
    stop_grace_s: float = Field(default=20.0, ge=0.0)
    # An upload's chat message is edited with its progress at most this often (0: no live progress).
    progress_interval_s: float = Field(default=5.0, ge=0.0)


class ResultsSettings(BaseModel):
    """Reading each published post's results (core/scheduler/results.py)."""

    # Hours after publishing at which a post's numbers are read and kept (one row per post and time).
    checkpoints_h: list[float] = Field(default_factory=lambda: [1.0, 24.0, 168.0])
    # How often each scheduler looks for reads that are due.
    poll_interval_s: float = Field(default=300.0, gt=0)
    # A reading missed by more than this (postbot was down) is skipped rather than read late.
    catch_up_h: float = Field(default=48.0, ge=0)
    # Reads claimed per poll and how long a claim holds before another worker may take it over.
    batch_size: int = Field(default=200, ge=1)
    lease_s: float = Field(default=300.0, gt=0)
    # Failed reads (network, 5xx, a rejected token) are tried this many times, with backoff.
    max_attempts: int = Field(default=5, ge=1)
    # How often each scheduler looks for weekly digests that are due (/postbot digest).
    digest_poll_s: float = Field(default=60.0, gt=0)
    # A digest whose time passed while postbot was down goes out when it is back within this many
    # hours (once); later, that week's digest is skipped.
    digest_catch_up_h: float = Field(default=24.0, ge=0)
    # A digest the chat refused (not a removed bot: a network fault, a 5xx) is tried this many times.
    digest_max_attempts: int = Field(default=5, ge=1)

    @field_validator("checkpoints_h")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(h <= 0 for h in value):
            raise ValueError("results.checkpoints_h: every checkpoint must be after publishing (> 0 h)")
        return sorted(set(value))


_Section = TypeVar("_Section", bound=PlatformSettings)


class PlatformSections(BaseModel):
    """The ``[platforms]`` table: one section per name of core/platforms/registry.py, each read with
    that platform's model (``SETTINGS`` in core/platforms/<name>/settings.py). ``PlatformsSettings``
    below is this with the sections as fields."""

    def for_platform(self, name: str) -> PlatformSettings:
        value: PlatformSettings = getattr(self, name)
        return value

    def section(self, name: str, model: type[_Section]) -> _Section:
        """A platform's section as its own model, for the keys only that platform has."""
        value = self.for_platform(name)
        # Only a copy that skipped validation (``model_copy(update=...)``) holds the common model.
        return value if isinstance(value, model) else model.model_validate(value, from_attributes=True)

    @field_validator("*", mode="before")
    @classmethod
    def _as_platform_model(cls, value: Any, info: ValidationInfo) -> Any:
        # A section built as the common model (``PlatformSettings(max_attempts=2)``) keeps every value
        # it holds, and takes the platform's defaults for the keys only that platform has.
        model = cls.model_fields[info.field_name or ""].annotation
        if isinstance(value, PlatformSettings) and isinstance(model, type) and not isinstance(value, model):
            return model.model_validate(value, from_attributes=True)
        return value


def _platform_model(name: str) -> type[PlatformSettings]:
    model = importlib.import_module(f"core.platforms.{name}.settings").SETTINGS
    if not (isinstance(model, type) and issubclass(model, PlatformSettings)):
        raise TypeError(f"core/platforms/{name}/settings.py: SETTINGS must be a PlatformSettings model")
    return model


if TYPE_CHECKING:
    # The checker sees the sections through for_platform() and section(): their names are data.
    PlatformsSettings = PlatformSections
else:
    PlatformsSettings = create_model(
        "PlatformsSettings",
        __base__=PlatformSections,
        __module__=__name__,
        **{
            name: (model, Field(default_factory=model))
            for name in NAMES
            for model in (_platform_model(name),)
        },
    )


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    # "socket" needs no public URL; "http" serves /slack/events on the web server.
    mode: str = "socket"
    api_base_url: str = "https://slack.com/api/"
    # The bot token is sent only to Slack's file hosts over HTTPS; origins listed here
    # ("scheme://host:port") are trusted with it too (a test fake, a corporate proxy in front of Slack).
    file_origins: list[str] = Field(default_factory=list)
    # HTTP mode: /slack/events refuses bodies larger than this (413) or slower than this (408).
    max_body_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    body_timeout_s: float = Field(default=10.0, gt=0)
    # /schedule without a file uses the user's most recent upload in the channel within this window.
    recent_file_window_s: int = 900
    admin_user_ids: list[str] = Field(default_factory=list)
    # The Home tab is re-published at most this often per workspace when its posts change.
    home_refresh_s: float = Field(default=10.0, ge=0)
    # Members who opened the Home tab longer ago than this are not refreshed on changes (Slack never
    # says when a tab is left); they get a fresh one when they open it again.
    home_recent_s: float = Field(default=1800.0, gt=0)
    # views.publish calls per minute per workspace: Slack's Tier 4, "100+ per minute"
    # (https://docs.slack.dev/reference/methods/views.publish, read 2026-12-06).
    home_publish_per_minute: int = Field(default=100, ge=1)

    @field_validator("file_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        # An origin is trusted with the bot token, so one that names no host (a typo such as
        # "https://") is refused here rather than matched against URLs that name none either.
        for origin in value:
            try:
                parts = urlsplit(origin.strip())
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                parts = None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"slack.file_origins: {origin!r} is not an origin; write scheme://host[:port], "
                    "e.g. https://files.proxy.example:8443"
                )
        return value


class DiscordSettings(BaseModel):
    token: SecretStr | None = None
    application_id: str | None = None
    api_base_url: str = "https://discord.com/api/v10"
    guild_ids: list[str] = Field(default_factory=list)
    # Discord user ids (snowflakes) that hear alerts by DM when no alerts.discord_channel is set.
    admin_user_ids: list[str] = Field(default_factory=list)
    sync_global: bool = False


class VaultSettings(BaseModel):
    # Not secret; why it exists and when to change it: core/crypto/keys.py.
    salt: str = "postbot-vault-v1"
    iterations: int = Field(default=600_000, ge=100_000)
    # Earlier secrets, kept for decrypting only until `postbot rotate-key` has moved every token.
    previous_secret_keys: list[SecretStr] = Field(default_factory=list)
    # Access tokens are refreshed this long before they expire.
    refresh_skew_s: float = 300.0


class AlertSettings(BaseModel):
    """Alerts to the team's operators when a platform keeps failing (core/alerts.py)."""

    enabled: bool = True
    # Where alerts go in each chat; unset: DMs to the chat's admins (slack.admin_user_ids,
    # discord.admin_user_ids).
    slack_channel: str | None = None
    discord_channel: str | None = None
    # A platform is failing when at least this share of the attempts in the window failed ...
    failure_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    window_s: float = 900.0
    # ... and the window holds at least this many attempts.
    min_attempts: int = Field(default=3, ge=1)
    # No second alert for the same platform sooner than this after the last one.
    repeat_s: float = 3600.0
    # How often a process with a chat checks linked accounts and workers (core/watch.py) ...
    check_interval_s: float = Field(default=60.0, gt=0)
    # ... alerting when no worker has been seen for this long ...
    workers_missing_s: float = Field(default=300.0, gt=0)
    # ... and when an account's access ends within this many days with no way to renew it.
    token_warn_days: float = Field(default=3.0, ge=0)
    # ... and when a platform API version it sends is sunset within this many days
    # (core/platforms/versions.py).
    api_version_warn_days: int = Field(default=30, ge=0)


class LogFileSettings(BaseModel):
    """An optional log file beside stderr, always JSON lines, rotated (core/logs.py)."""

    path: Path | None = None
    # Rotate when the file would grow past this many bytes (0: never by size) ...
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)
    # ... or at a time instead: "midnight", "H" (hourly), "W0" (Mondays); UTC.
    when: str | None = None
    # Rotated files kept beside the current one.
    backup_count: int = Field(default=7, ge=0)


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    # The public address providers redirect back to (OAuth callbacks, Slack HTTP endpoint).
    public_url: str = "http://127.0.0.1:8080"
    # A connection that has not sent a whole request head (line and headers) this long after it
    # opened, or after its last response, is closed (slowloris; adapters/web/server.py).
    header_timeout_s: float = Field(default=10.0, gt=0)
    # /metrics is not on the public port unless a scraper presents this bearer token (env
    # POSTBOT_WEB__METRICS_TOKEN only). With metrics_port set, it is served there instead, alone.
    metrics_token: SecretStr | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None


class LinkSettings(BaseModel):
    """Videos fetched from a link (core/media/links.py)."""

    # Networks a link may reach besides the public internet. Empty in production; a test that plays
    # "the internet" on loopback adds 127.0.0.0/8 here. Private, loopback, link-local and other
    # non-global addresses are refused otherwise, at every redirect and at connect time.
    allow_networks: list[str] = Field(default_factory=list)
    # Extra CA bundle to trust (a test's own CA, a TLS-inspecting proxy's); the public roots otherwise.
    ca_file: Path | None = None
    max_redirects: int = 5
    # Cap when no chosen platform has a size limit (the sandbox): a link must not fill the disk.
    max_bytes: int = 8 * 1024**3
    timeout_s: float = 30.0


class S3Settings(BaseModel):
    """An S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, GCS interoperability)."""

    bucket: str = ""
    # Unset for AWS itself; e.g. "https://<account>.r2.cloudflarestorage.com" or "http://minio:9000".
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    # Env POSTBOT_MEDIA__S3__SECRET_ACCESS_KEY only.
    secret_access_key: SecretStr | None = None
    # Keys are stored under this prefix ("postbot/ab/abcd….mp4"), so a bucket can be shared.
    prefix: str = "postbot"
    # Path-style URLs (bucket in the path) work with AWS, R2, MinIO and moto alike.
    virtual_hosted_style: bool = False
    # Multipart upload part size (S3 needs at least 5 MiB) and parts sent at once.
    part_size_bytes: int = 16 * MIB
    upload_concurrency: int = 4


class MediaSettings(BaseModel):
    # "local": data_dir/media on this machine (one machine). "s3": a bucket every process shares.
    backend: Literal["local", "s3"] = "local"
    # A video is deleted once every post using it has finished (published or cancelled) this many
    # days ago; a failed post keeps its video for a retry, a queued one always does.
    retention_days: float = 30.0
    # How often each scheduler process collects expired videos (postbot media gc does it at once).
    gc_interval_h: float = 6.0
    # Lifetime of the URL handed to platforms that fetch the video themselves.
    url_expiry_s: float = 3600.0
    s3: S3Settings = Field(default_factory=S3Settings)
    # Convert a file a platform would refuse for its wrapping or encoding (remux, or transcode to
    # H.264/AAC) instead of refusing it. Off: refuse, as `/schedule ... --no-convert` does per post.
    convert: bool = True
    # Processes that transcode at once. Each keeps a core busy for roughly the video's length
    # (1080p), so leave room for the bot and the uploads.
    convert_workers: int = Field(default=1, ge=1)
    # How far below the bot the conversions run (os.nice increment, 0-19).
    convert_niceness: int = Field(default=10, ge=0, le=19)
    # With a bucket: the most disk this machine's copies of videos (data_dir/media/cache) take, for
    # the probe and the converter of videos a platform takes only converted. Least recently used
    # copies go first; copies used in the last minute stay, whatever the size.
    cache_max_mb: float = Field(default=4096.0, ge=0)


SECRET_PATHS = {
    ("secret_key",),
    ("vault", "previous_secret_keys"),
    ("slack", "bot_token"),
    ("slack", "app_token"),
    ("slack", "signing_secret"),
    ("web", "metrics_token"),
    ("discord", "token"),
    ("media", "s3", "secret_access_key"),
    *((("platforms", p, "client_secret")) for p in PlatformsSettings.model_fields),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="POSTBOT_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = "sqlite+aiosqlite:///postbot.db"
    default_timezone: str = "UTC"
    audience_timezones: list[str] = Field(default_factory=list)
    data_dir: Path = Path("data")
    max_schedule_horizon_days: int = 365
    log_level: str = "INFO"
    # JSON lines when true, plain text when false; unset: JSON unless stderr is a terminal.
    log_json: bool | None = None
    log_file: LogFileSettings = Field(default_factory=LogFileSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    # Vault secret from which the AES-256-GCM key is derived (env POSTBOT_SECRET_KEY only).
    secret_key: SecretStr | None = None

    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    results: ResultsSettings = Field(default_factory=ResultsSettings)
    platforms: PlatformsSettings = Field(default_factory=PlatformsSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    vault: VaultSettings = Field(default_factory=VaultSettings)
    links: LinkSettings = Field(default_factory=LinkSettings)

    @field_validator("audience_timezones")
    @classmethod
    def _audience_zones(cls, value: list[str]) -> list[str]:
        # "America/New_York" or "Europe/Berlin=0.3" (a share); checked here so a typo fails at start.
        from core.slots.audience import parse_audience

        try:
            parse_audience(value, "UTC")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("config error: audience_timezones: ")) from exc
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @field_validator("media")
    @classmethod
    def _bucket_named(cls, value: MediaSettings) -> MediaSettings:
        if value.backend == "s3" and not value.s3.bucket:
            raise ValueError("media.backend is s3 but media.s3.bucket is not set")
        return value

    @property
    def converted_dir(self) -> Path:
        return self.media_dir / "converted"

    def platform_dir(self, name: str) -> Path:
        """The folder under data_dir a platform keeps its own files in (the sandbox's posts)."""
        return self.data_dir / name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = _read_toml()

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _config_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} (from {CONFIG_ENV}) does not exist")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _read_toml() -> dict[str, Any]:
    path = _config_path()
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    for secret in SECRET_PATHS:
        node: Any = data
        for key in secret:
            node = node.get(key) if isinstance(node, dict) else None
        if node:
            env = "POSTBOT_" + "__".join(k.upper() for k in secret)
            raise ConfigError(f"{path}: {'.'.join(secret)} is a secret: set it in the environment as {env}")
    return data


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning pydantic's report into one line a person can act on."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config error: {where}: {first['msg']}") from exc
    except SettingsError as exc:
        # pydantic-settings reads a list or table from a POSTBOT_* variable as JSON, and names only
        # the top-level field when that fails.
        raise ConfigError(
            f"config error: {exc}: a list or table in a POSTBOT_* variable is written in JSON, "
            "e.g. POSTBOT_SLACK__ADMIN_USER_IDS='[\"U0123\"]'"
        ) from exc


def require(value: SecretStr | str | None, name: str) -> str:
    """A value a command cannot run without; the error names the setting and its env variable."""
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()) or value == "":
        env = "POSTBOT_" + name.upper().replace(".", "__")
        raise ConfigError(f"config error: {name} is required (set {env})")
    return value.get_secret_value() if isinstance(value, SecretStr) else value
