"""The app manifest and the listeners agree: every command, shortcut and event Slack is told about
has a listener, and every scope a Web API call needs is requested."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.slack.blocks import SHORTCUT_CALLBACK
from adapters.slack.handlers import COMMAND_ACKS
from tests.fakes.slack_api import METHOD_SCOPES

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[1] / "adapters/slack/manifest.yml").read_text())


def test_commands_in_the_manifest_are_the_ones_handled() -> None:
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert commands == set(COMMAND_ACKS)
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events") and len(command["description"]) <= 100


def test_shortcut_events_and_scopes() -> None:
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert shortcut["type"] == "message" and shortcut["callback_id"] == SHORTCUT_CALLBACK
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert events == {"app_mention", "file_shared", "message.channels", "message.groups"}
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    needed = {s for m, s in METHOD_SCOPES.items() if s and m != "apps.connections.open"}
    assert needed <= scopes
    # Each event needs its scope: app_mention → app_mentions:read, message.* → *:history, files.
    assert {"app_mentions:read", "channels:history", "groups:history", "files:read", "commands"} <= scopes
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
