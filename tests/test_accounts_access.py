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
    for help_text, admin_word in ((SLACK_HELP, "(admins)"), (DISCORD_HELP, "(Manage Server)")):
        [line] = [line for line in help_text.splitlines() if "/postbot accounts" in line]
        listing, _, admin_part = line.partition("·")
        assert "/postbot accounts" in listing and admin_word not in listing
        assert re.search(r"/postbot link.*/postbot unlink.*" + re.escape(admin_word), admin_part)
