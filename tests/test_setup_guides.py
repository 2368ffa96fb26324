"""The setup guides (docs/setup/) say what the code does: one guide per linkable platform and per chat,
each naming the redirect URI exactly as postbot builds it, the scopes it asks for, the setting and
variable the client id and secret go in, and the API version it sends; the per-process table names
every setting a process refuses to start without; and every relative link between the docs resolves.

Everything compared is read from the code, so changing a scope, the callback path, a default
version, the manifest or what a process requires fails here until the guide says so too.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import discord
import pytest
import yaml
from pydantic import SecretStr

from core.accounts.linking import redirect_uri
from core.config import (
    SECRET_PATHS,
    PlatformSettings,
    PlatformsSettings,
    Settings,
    SlackSettings,
    WebSettings,
)
from core.domain import ChatKind
from core.platforms.registry import SPECS
from core.platforms.spec import PlatformSpec

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "docs" / "setup"
# The public address the guides use in their examples.
EXAMPLE_URL = "https://postbot.example.com"
LINKABLE = [s for s in SPECS if s.oauth is not None]
# Chats a person sets up an app for; the console needs none.
CHATS = [c.value for c in ChatKind if c is not ChatKind.CONSOLE]


def _guide(name: str) -> str:
    return (SETUP / f"{name}.md").read_text()


def _env(*path: str) -> str:
    """The variable pydantic-settings reads for a setting (env_prefix POSTBOT_, nested with __)."""
    return "POSTBOT_" + "__".join(p.upper() for p in path)


def _row(text: str, label: str) -> str:
    """The first table row whose first cell starts with ``label``."""
    for line in text.splitlines():
        if line.startswith(f"| {label}"):
            return line
    raise AssertionError(f"no table row starting with {label!r}")


# -- one guide per platform and chat --------------------------------------------------------------


def test_a_guide_for_every_linkable_platform_and_chat_linked_from_the_index() -> None:
    index = _guide("README")
    for name in [s.name for s in LINKABLE] + CHATS:
        assert (SETUP / f"{name}.md").is_file(), f"docs/setup/{name}.md is missing"
        assert f"]({name}.md)" in index, f"docs/setup/README.md does not link {name}.md"
    # The sandbox needs no account, so no guide; a platform that gains OAuth needs one.
    assert {s.name for s in LINKABLE} == {s.name for s in SPECS if s.linkable}


def test_the_readme_links_the_setup_index() -> None:
    assert "](docs/setup/README.md)" in (ROOT / "README.md").read_text()


# -- what each platform guide must say exactly --------------------------------------------------------


@pytest.mark.parametrize("spec", LINKABLE, ids=lambda s: s.name)
def test_guide_names_the_redirect_uri_as_the_code_builds_it(spec: PlatformSpec) -> None:
    text = _guide(spec.name)
    public = Settings(web=WebSettings(public_url=EXAMPLE_URL))
    assert redirect_uri(public, spec.platform) in text
    # A trailing slash on web.public_url does not change what is registered.
    assert redirect_uri(Settings(web=WebSettings(public_url=EXAMPLE_URL + "/")), spec.platform) in text
    loopback = redirect_uri(Settings(web=WebSettings()), spec.platform)
    assert spec.oauth is not None
    row = _row(text, "Loopback redirect")
    if spec.oauth.loopback_redirect:
        # The guide tells a console user which loopback address to register: the default one.
        assert "not accepted" not in row and "accepted" in row
        assert loopback in text, f"{spec.name}: register {loopback} for console linking"
    else:
        assert "not accepted" in row
        assert loopback not in text, f"{spec.name} takes no loopback redirect; the guide offers one"


@pytest.mark.parametrize("spec", LINKABLE, ids=lambda s: s.name)
def test_guide_names_every_scope_postbot_asks_for(spec: PlatformSpec) -> None:
    assert spec.oauth is not None
    text = _guide(spec.name)
    scopes = _row(text, "Scopes postbot asks for")
    for scope in spec.oauth.default_scopes:
        assert f"`{scope}`" in scopes, f"{spec.name}: scope {scope} missing from the guide"
    # And no scope postbot does not ask for: every backticked word in the row is one of them.
    listed = re.findall(r"`([^`]+)`", scopes.split("|")[2])
    assert set(listed) == set(spec.oauth.default_scopes)
    # The doctor line the guide shows is the one doctor prints (scopes space-separated, in order).
    assert "scopes: " + " ".join(spec.oauth.default_scopes) in text


@pytest.mark.parametrize("spec", LINKABLE, ids=lambda s: s.name)
def test_guide_shows_the_line_postbot_doctor_prints(spec: PlatformSpec) -> None:
    from bot.doctor import _platforms

    conf = PlatformSettings(client_id="id", client_secret=SecretStr("secret"))
    platforms = PlatformsSettings().model_copy(update={spec.name: conf})
    settings = Settings(web=WebSettings(public_url=EXAMPLE_URL), platforms=platforms)
    (line,) = [f.line() for f in _platforms(settings) if f.name == spec.label]
    assert line in _guide(spec.name), f"{spec.name}: the guide's doctor line is not {line!r}"


@pytest.mark.parametrize("spec", LINKABLE, ids=lambda s: s.name)
def test_guide_names_the_client_id_setting_and_the_secret_variable(spec: PlatformSpec) -> None:
    text = _guide(spec.name)
    assert "client_id" in PlatformSettings.model_fields and "client_secret" in PlatformSettings.model_fields
    # The secret is refused in postbot.toml, and this is the variable the refusal names.
    assert ("platforms", spec.name, "client_secret") in SECRET_PATHS
    secret_env = _env("platforms", spec.name, "client_secret")
    assert secret_env in _row(text, "Client secret")
    client_id = _row(text, "Client id")
    assert f"`[platforms.{spec.name}] client_id`" in client_id
    assert _env("platforms", spec.name, "client_id") in client_id
    assert f"[platforms.{spec.name}]\nclient_id = " in text, "the toml example sets client_id"


@pytest.mark.parametrize("spec", LINKABLE, ids=lambda s: s.name)
def test_guide_names_the_api_version_postbot_sends(spec: PlatformSpec) -> None:
    row = _row(_guide(spec.name), "API version")
    if spec.api_versions is None:
        assert "no version setting" in row
        return
    versions = spec.api_versions
    assert versions.default in row
    assert f"`{versions.setting.replace(f'platforms.{spec.name}.', f'[platforms.{spec.name}] ')}`" in row
    default = versions.find(versions.default)
    assert default is not None and default.sunset is not None
    assert f"{default.sunset.day} {default.sunset:%b %Y}" in row, "the guide names the default's sunset"


# -- chats --------------------------------------------------------------------------------------------


def test_slack_guide_names_the_manifest_scopes_events_and_tokens() -> None:
    text = _guide("slack")
    manifest = yaml.safe_load((ROOT / "adapters" / "slack" / "manifest.yml").read_text())
    scopes = _row(text, "Bot scopes")
    assert set(re.findall(r"`([^`]+)`", scopes)) == set(manifest["oauth_config"]["scopes"]["bot"])
    events = _row(text, "Bot events")
    bot_events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(re.findall(r"`([^`]+)`", events)) == set(bot_events)
    for token in ("bot_token", "app_token", "signing_secret"):
        assert ("slack", token) in SECRET_PATHS and _env("slack", token) in text
    assert f'mode = "{SlackSettings().mode}"' in text, "the guide shows the default mode"
    # The URL fields HTTP mode must point at postbot: as many as the manifest has.
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [manifest["settings"]["event_subscriptions"]["request_url"]]
    urls += [manifest["settings"]["interactivity"]["request_url"]]
    words = {3: "three", 4: "four", 5: "five", 6: "six"}
    assert f"the {words[len(urls)]} URL fields" in text
    assert {u.removeprefix(EXAMPLE_URL) for u in urls} == {"/slack/events"}
    assert f"{EXAMPLE_URL}/slack/events" in text


def test_discord_guide_names_the_intents_and_permissions_the_bot_uses() -> None:
    from adapters.discord.client import minimal_intents

    text = _guide("discord")
    enabled = [name for name, on in minimal_intents() if on]
    assert enabled == ["guilds", "guild_reactions"], "the guide documents these; say why another is needed"
    row = _row(text, "Gateway intents")
    assert "`GUILDS` and `GUILD_MESSAGE_REACTIONS`" in row and "Privileged Gateway Intent" in row
    wanted = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        embed_links=True,
        read_message_history=True,
    )
    assert f"permissions={wanted.value}" in text
    assert str(wanted.value) in _row(text, "Bot permissions")
    # Each permission's bit, as the table gives it, is the one discord.py uses.
    for name, bit in re.findall(r"^\| ([A-Z][\w ]+?) \| `1 << (\d+)` \|", text, re.M):
        flag = name.lower().replace(" ", "_").replace("channels", "channel")
        assert getattr(discord.Permissions, flag).flag == 1 << int(bit), name
    assert ("discord", "token") in SECRET_PATHS and _env("discord", "token") in text


# -- the per-process table --------------------------------------------------------------------------


def _required_by_processes() -> set[str]:
    """Every setting bot/runtime.py refuses to start without: the names given to ``require``."""
    tree = ast.parse((ROOT / "bot" / "runtime.py").read_text())
    names = {
        str(node.args[1].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "require"
        and isinstance(node.args[1], ast.Constant)
    }
    assert names, "bot/runtime.py no longer calls require(): read what the processes need anew"
    return names


def test_process_table_names_every_setting_a_process_requires() -> None:
    text = _guide("README")
    table = text[text.index("## Settings and environment variables per process") :]
    header = _row(table, "setting (file)")
    for process in ("web", "worker", "slack", "discord", "console"):
        assert f"`{process}`" in header
    for name in _required_by_processes():
        env = _env(*name.split("."))
        rows = [line for line in table.splitlines() if env in line]
        assert rows, f"{env} (required by a process) is not in the table"
        assert any("**required**" in row for row in rows), f"{env}: the table does not say required"


# -- links between the docs ---------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _docs() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        slug = _slug(line.lstrip("#"))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(path: Path) -> list[str]:
    found: list[str] = []
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            found += LINK.findall(line)
    return found


@pytest.mark.parametrize("doc", _docs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path) -> None:
    broken: list[str] = []
    for target in _links(doc):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto: and the like: looked up when written, not checkable here
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target} (no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor})")
    assert not broken, f"{doc.relative_to(ROOT)}: broken links: {broken}"
