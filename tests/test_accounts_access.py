"""Issue 11 point 10: who may run /accounts is decided once, and the code, README and help agree.

Decision: every member may list the linked accounts (they schedule posts to them and need to see why
one failed; the listing holds no token material); only admins link and unlink."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.discord.commands import HELP as DISCORD_HELP
from adapters.slack.handlers import HELP as SLACK_HELP

README = Path(__file__).resolve().parent.parent / "README.md"


def _row(command: str) -> str:
    rows = [line for line in README.read_text().splitlines() if line.startswith("|") and command in line]
    assert len(rows) == 1, rows
    return rows[0]


def test_readme_opens_accounts_to_everyone_and_keeps_link_and_unlink_for_admins() -> None:
    assert "(everyone)" in _row("`/accounts`") and "admin" not in _row("`/accounts`")
    assert "(admins)" in _row("`/link <platform>`")
    assert "`/unlink <platform>`" in _row("`/link <platform>`")


def test_chat_help_marks_only_link_and_unlink_as_admin_commands() -> None:
    [line] = [line for line in SLACK_HELP.splitlines() if "/postbot accounts" in line]
    listing, _, admin_part = line.partition("·")
    assert "/postbot accounts" in listing and "(admins)" not in listing
    assert re.search(r"/postbot link.*/postbot unlink.*" + re.escape("(admins)"), admin_part)
    # Discord: the admins' commands are a command of their own, under a heading that says who.
    members, _, admins = DISCORD_HELP.partition("(Manage Server)")
    assert "/postbot accounts" in members and not re.search(r"/postbot\S* (link|unlink)", members)
    assert re.search(r"/postbot-admin link.*/postbot-admin unlink", admins)
