"""The app manifest and the listeners agree: every command, shortcut and event Slack is told about
has a listener, and every scope a Web API call needs is requested."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from adapters.slack.blocks import SHORTCUT_CALLBACK
from adapters.slack.handlers import COMMAND_ACKS

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "adapters/slack/manifest.yml").read_text())
# The methods' reference pages, written down with their links; not the fake's table.
DOCUMENTED = json.loads((ROOT / "tests/data/slack_methods.json").read_text())["methods"]
_CALL = re.compile(r"\bclient\.([a-z]+)_([A-Za-z]+)\(")


def called_methods() -> set[str]:
    """Every Web API method the Slack adapter calls (``client.chat_postMessage(`` → chat.postMessage)."""
    found = set()
    for path in (ROOT / "adapters" / "slack").glob("*.py"):
        found |= {f"{group}.{name}" for group, name in _CALL.findall(path.read_text())}
    return found


def test_commands_in_the_manifest_are_the_ones_handled() -> None:
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert commands == set(COMMAND_ACKS)
    for command in MANIFEST["features"]["slash_commands"]:
        assert command["url"].endswith("/slack/events") and len(command["description"]) <= 100


def test_shortcut_events_and_scopes() -> None:
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert shortcut["type"] == "message" and shortcut["callback_id"] == SHORTCUT_CALLBACK
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert events == {
        "app_home_opened",
        "app_mention",
        "file_shared",
        "message.channels",
        "message.groups",
        "reaction_added",
    }
    # reaction_added's required scope (https://docs.slack.dev/reference/events/reaction_added/).
    assert "reactions:read" in set(MANIFEST["oauth_config"]["scopes"]["bot"])
    # views.publish answers not_enabled for a home view unless the Home tab is on
    # (https://api.slack.com/methods/views.publish#errors).
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = called_methods()
    assert {"chat.postMessage", "chat.postEphemeral", "files.info", "conversations.history"} <= called
    # "Bot user tokens may use this method for direct message and multi-party direct message
    # conversations, but lack sufficient permissions to use this method on public and private
    # channels" (https://docs.slack.dev/reference/methods/conversations.replies): postbot works in channels.
    assert "conversations.replies" not in called
    assert called <= set(DOCUMENTED), f"document these methods' scopes: {called - set(DOCUMENTED)}"
    for method in called:
        doc = DOCUMENTED[method]
        uses = doc.get("postbot_uses")
        kinds = [uses] if isinstance(uses, str) else uses or []
        needed = set(doc["scopes"]) | {doc["any_of"][k] for k in kinds}
        assert needed <= scopes, f"{method} needs {needed - scopes} ({doc['doc']})"
    # Each event needs its scope: app_mention → app_mentions:read, message.* → *:history, files.
    assert {"app_mentions:read", "channels:history", "groups:history", "files:read", "commands"} <= scopes
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def test_the_docs_count_what_the_manifest_declares() -> None:
    commands = len(MANIFEST["features"]["slash_commands"])
    for doc in ("docs/slack.md", "docs/setup/slack.md"):
        for word in re.findall(r"declares the (\w+) slash commands", (ROOT / doc).read_text()):
            assert _NUMBERS.get(word) == commands, (
                f"{doc} says {word} slash commands; the manifest has {commands}"
            )
    text = (ROOT / "adapters/slack/manifest.yml").read_text()
    urls = len(re.findall(r"^\s*(?:url|request_url): https://postbot\.example\.com", text, re.M))
    [word] = re.findall(r"in the (\w+) url fields", text)
    assert _NUMBERS.get(word) == urls


def test_the_messages_tab_takes_no_messages_nobody_reads() -> None:
    """postbot has no listener for messages sent to it (no message.im event): the tab is read-only."""
    home = MANIFEST["features"]["app_home"]
    assert "message.im" not in MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is True
