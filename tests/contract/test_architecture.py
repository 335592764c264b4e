"""Layering rules, checked on the source: standards logic is pure, routers hold no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"

#: Packages holding the pure logic of a standard (or of routing): no web, no database.
PURE = [
    SERVICES / "context-broker/src/context_broker/ngsild",
    SERVICES / "catalogue/src/catalogue/dcat",
    SERVICES / "marketplace/src/marketplace/tmf",
    SERVICES / "marketplace/src/marketplace/odrl",
    SERVICES / "gateway/src/gateway/routing",
    SERVICES / "gateway/src/gateway/openapi",
]
WEB_OR_DB = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "httpx", "uvicorn")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", PURE, ids=lambda p: p.name)
def test_standard_packages_import_no_web_or_database_framework(package: Path) -> None:
    files = list(package.rglob("*.py"))
    assert files
    for file in files:
        bad = {m for m in imported_modules(file) if m.split(".")[0] in WEB_OR_DB}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"


def test_routers_run_no_sql() -> None:
    routers = list(SERVICES.rglob("router.py"))
    assert len(routers) >= 4
    for file in routers:
        bad = {m for m in imported_modules(file) if m.split(".")[0] in ("sqlalchemy", "asyncpg")}
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"
        assert "repository" not in file.read_text(), f"{file.relative_to(ROOT)} uses a repository"


def test_shared_knows_no_service() -> None:
    for file in (ROOT / "shared/src").rglob("*.py"):
        bad = {
            m
            for m in imported_modules(file)
            if m.split(".")[0] in ("context_broker", "catalogue", "marketplace", "gateway")
        }
        assert not bad, f"{file.relative_to(ROOT)} imports {sorted(bad)}"
