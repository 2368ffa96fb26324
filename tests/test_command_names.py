"""The commands each chat registers are the ones its manifest, docs and help name, and back: in Slack
only /schedule, /post and /postbot are top-level, everything else is a /postbot subcommand; Discord
has the admin ones under /postbot-admin (who may use a command is set per top-level command there);
the console keeps the short forms."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from discord import app_commands

from adapters.discord.commands import COMMANDS
from adapters.discord.commands import HELP as DISCORD_HELP
from adapters.discord.replies import ADMIN
from adapters.slack.handlers import COMMAND_ACKS, LEGACY_COMMANDS, SlackHandlers
from adapters.slack.handlers import HELP as SLACK_HELP
from core.render import ADMIN_SUBCOMMANDS, NAMESPACE, SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = {"schedule", "post"}


def _table_commands(doc: str) -> set[str]:
    """Every command named in the first cell of a docs table row: ``schedule``, ``postbot queue``."""
    found = set()
    for line in (ROOT / doc).read_text().splitlines():
        if line.startswith("| `/"):
            cell = line.split("|")[1]
            for name in re.findall(r"`/([a-z-]+(?: [a-z]+)?)", cell):
                top, _, sub = name.partition(" ")
                found.add(f"{top} {sub}" if top in (NAMESPACE, ADMIN) and sub else top)
    return found


def _help_commands(text: str) -> set[str]:
    found = set()
    for top, sub in re.findall(r"`/([a-z-]+)(?: ([a-z]+))?", text):
        found.add(f"{top} {sub}" if top in (NAMESPACE, ADMIN) and sub else top)
    return found - {NAMESPACE, ADMIN}


def slack_commands() -> set[str]:
    """What the Slack adapter answers: its top-level listeners and /postbot's subcommands."""
    subs = SlackHandlers.__new__(SlackHandlers)._subcommands()
    return {c.lstrip("/") for c in COMMAND_ACKS} - {NAMESPACE} | {f"{NAMESPACE} {s}" for s in subs}


def discord_commands() -> set[str]:
    names = set()
    for command in COMMANDS:
        if isinstance(command, app_commands.Group):
            names |= {f"{command.name} {sub.name}" for sub in command.commands}
        else:
            names.add(command.name)
    return names


def test_slack_registers_three_top_level_commands_and_the_manifest_lists_exactly_them() -> None:
    manifest = yaml.safe_load((ROOT / "adapters/slack/manifest.yml").read_text())
    listed = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert listed == set(COMMAND_ACKS) == {"/schedule", "/post", f"/{NAMESPACE}"}
    # The legacy names are answered but never asked for: a new install has none of them.
    assert not listed & set(LEGACY_COMMANDS)
    assert set(LEGACY_COMMANDS.values()) <= set(SlackHandlers.__new__(SlackHandlers)._subcommands())


def test_slack_docs_and_help_name_every_command_it_answers_and_no_other() -> None:
    commands = slack_commands()
    assert commands == HEADLINE | {f"{NAMESPACE} {s}" for s in SUBCOMMANDS if s != "timezone"}
    assert _table_commands("docs/slack.md") == commands
    assert _help_commands(SLACK_HELP) == commands


def test_discord_registers_two_groups_and_its_docs_and_help_agree() -> None:
    commands = discord_commands()
    members = {f"{NAMESPACE} {s}" for s in SUBCOMMANDS if s not in ADMIN_SUBCOMMANDS}
    assert commands == HEADLINE | members | {f"{ADMIN} {s}" for s in ADMIN_SUBCOMMANDS}
    assert _table_commands("docs/discord.md") == commands
    assert _help_commands(DISCORD_HELP) == commands
    # Discord's own limits on a group: 25 subcommands, names of 1-32 lowercase characters.
    groups = [c for c in COMMANDS if isinstance(c, app_commands.Group)]
    assert {g.name for g in groups} == {NAMESPACE, ADMIN}
    for group in groups:
        assert len(group.commands) <= 25 and all(re.fullmatch(r"[a-z]{1,32}", c.name) for c in group.commands)


def test_the_console_keeps_the_short_forms() -> None:
    from adapters.console.commands import HELP as CONSOLE_HELP

    named = {top for top, _ in re.findall(r"(?<![\w`])/([a-z]+)( [a-z]+)?", CONSOLE_HELP)}
    assert {"schedule", "post", "queue", "cancel", "status", "pause", "resume", "help"} <= named
    assert NAMESPACE not in named


def test_every_discord_command_a_doc_writes_with_its_options_is_one_discord_registers() -> None:
    """`/postbot-admin link platform:youtube`, as the setup guides tell an admin to type it: the
    group, the subcommand and the option all exist (the guides once said `/postbot link platform:`,
    which Discord does not have)."""
    options = {}
    for command in COMMANDS:
        if isinstance(command, app_commands.Group):
            for sub in command.commands:
                assert isinstance(sub, app_commands.Command)
                options[f"{command.name} {sub.name}"] = {p.name for p in sub.parameters}
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    written = [
        (doc.relative_to(ROOT), f"{top} {sub}", option)
        for doc in docs
        for top, sub, option in re.findall(r"`/(postbot(?:-admin)?)\s+([a-z]+)\s+([a-z_]+):", doc.read_text())
    ]
    assert written
    wrong = [(doc, name, option) for doc, name, option in written if option not in options.get(name, ())]
    assert not wrong, wrong
