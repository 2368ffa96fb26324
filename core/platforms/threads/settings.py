"""Threads' [platforms.threads] section: the keys every platform has, with their defaults."""

from __future__ import annotations

from core.platforms.settings import PlatformSettings

SETTINGS = PlatformSettings
