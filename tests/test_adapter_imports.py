"""The adapter rule, checked on the source: a chat adapter reaches postbot only through the facade.

Every module under adapters/ may import the standard library, third-party packages, its own chat's
modules (adapters.slack.* inside adapters/slack/), and of postbot's core only:

- ``core.service``: the facade (``Postbot``) and what crosses it,
- ``core.domain``: the plain types,
- ``core.errors``: the errors whose text is written for people,
- ``core.render``: the one deliberate exception, chat-agnostic wording of posts, slots and
  accounts (pure functions of domain types, no I/O), which every chat wraps in its own layout.

Nothing in bot/ either (the runtime starts the adapters, never the other way round), and no other
chat's adapter. Imports are read from the syntax tree, so an import inside a function or under
``if TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = ROOT / "adapters"
ALLOWED_CORE = {"core.service", "core.domain", "core.errors", "core.render"}
PROJECT = ("core", "bot", "adapters", "migrations", "bench", "tests")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; name the module"
            assert node.module is not None
            # `from core import slots` imports core.slots: judge the names, not the package.
            if node.module in PROJECT:
                found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _allowed(module: str, chat: str) -> bool:
    top = module.split(".")[0]
    if top not in PROJECT:
        return True  # the standard library and third-party packages
    if top == "core":
        # The facade is a package of capability modules (core/service/); an adapter reaching into
        # one of them (core.service.queue) would bypass the facade it is meant to go through.
        return module in ALLOWED_CORE
    return top == "adapters" and (module == f"adapters.{chat}" or module.startswith(f"adapters.{chat}."))


MODULES = sorted(ADAPTERS.rglob("*.py"))


def test_every_chat_is_checked() -> None:
    chats = {p.relative_to(ADAPTERS).parts[0] for p in MODULES if len(p.relative_to(ADAPTERS).parts) > 1}
    assert {"slack", "discord", "console", "web"} <= chats


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_an_adapter_imports_only_the_facade_the_domain_and_the_errors(path: Path) -> None:
    parts = path.relative_to(ADAPTERS).parts
    chat = parts[0] if len(parts) > 1 else ""
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for line, module in _imports(path)
        if not _allowed(module, chat)
    ]
    assert not wrong, "adapters may import core.service, core.domain, core.errors, core.render only:\n" + (
        "\n".join(wrong)
    )


def test_the_check_catches_what_it_should() -> None:
    """The rule itself, on the shapes of imports the adapters used to have."""
    assert not _allowed("core.accounts.linking", "slack")
    assert not _allowed("core.service.queue", "slack")
    assert not _allowed("core.media.recent", "slack")
    assert not _allowed("core.config", "discord")
    assert not _allowed("core.timeparse", "discord")
    assert not _allowed("bot.wiring", "console")
    assert not _allowed("adapters.web.run", "slack")
    assert not _allowed("core.slots", "slack")
    assert _allowed("core.service", "slack")
    assert _allowed("adapters.slack.files", "slack")
    assert _allowed("discord.ui", "discord")
    assert _allowed("starlette.routing", "web")
