"""The scheduler's rule, checked on the source: core/scheduler/ holds timing and policy, and every
read or write it makes goes through the store (core/store/), whose interface speaks plain types.

So no module under core/scheduler/ imports a database driver, SQLAlchemy, or the ORM models: a query
on ``scheduled_posts`` (or any other table) written there fails this test. Imports are read from the
syntax tree, so one inside a function or under ``if TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEDULER = ROOT / "core" / "scheduler"
FORBIDDEN = ("sqlalchemy", "asyncpg", "aiosqlite", "psycopg", "core.db")
MODULES = sorted(SCHEDULER.rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; name the module"
            module = node.module or ""
            # `from core import db` imports core.db: judge the names too.
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
            found.append((node.lineno, module))
    return found


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_the_scheduler_package_is_checked() -> None:
    names = {p.stem for p in MODULES}
    assert {"processor", "runner", "outcomes", "breaker"} <= names, names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_scheduler_module_touches_the_database_itself(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in _imports(path) if _forbidden(module)
    ]
    assert not bad, "the scheduler reaches the database only through core/store/:\n" + "\n".join(bad)


def test_the_check_catches_a_query_written_in_the_scheduler(tmp_path: Path) -> None:
    # The rule must be able to fail: the shapes the old claim.py and outcomes.py used are caught.
    sample = tmp_path / "claim.py"
    sample.write_text(
        "from sqlalchemy import select, update\n"
        "from core.db.models import ScheduledPost\n"
        "def f():\n"
        "    from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from core import db\n"
    )
    caught = sorted({m for _, m in _imports(sample) if _forbidden(m)})
    assert caught == [
        "core.db",
        "core.db.models",
        "core.db.models.ScheduledPost",
        "sqlalchemy",
        "sqlalchemy.ext.asyncio",
        "sqlalchemy.ext.asyncio.AsyncSession",
        "sqlalchemy.select",
        "sqlalchemy.update",
    ]
