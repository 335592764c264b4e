"""The migration runner against a real PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mims_shared.db import database_url_for, libpq_url, maintenance_url
from mims_shared.migrations import MigrationError, ensure_database, load_migrations, migrate


@pytest.fixture
async def scratch_db(pg_server: str) -> AsyncIterator[str]:
    url = database_url_for(pg_server, f"mims_test_migr_{uuid.uuid4().hex[:8]}")
    assert await ensure_database(url) is True
    assert await ensure_database(url) is False
    yield url
    conn = await asyncpg.connect(maintenance_url(url))
    try:
        await conn.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)')
    finally:
        await conn.close()


def write(folder: Path, name: str, sql: str) -> None:
    (folder / name).write_text(sql)


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(libpq_url(url))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r[0] for r in rows}


async def test_applies_in_order_once(scratch_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (id int); INSERT INTO a VALUES (1);")
    applied = await migrate(scratch_db, tmp_path)
    assert [m.version for m in applied] == [1, 2]
    assert await migrate(scratch_db, tmp_path) == []
    assert {"a", "b", "schema_migrations"} <= await tables(scratch_db)


async def test_replicas_starting_together_apply_each_file_once(
    scratch_db: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    results = await asyncio.gather(*(migrate(scratch_db, tmp_path) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


async def test_a_failing_file_leaves_nothing_half_done(scratch_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int); CREATE TABLE broken (;")
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate(scratch_db, tmp_path)
    assert "a" not in await tables(scratch_db)


async def test_a_changed_file_is_refused(scratch_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    await migrate(scratch_db, tmp_path)
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(scratch_db, tmp_path)


def test_badly_named_and_duplicate_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "create.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_description"):
        load_migrations(tmp_path)
    (tmp_path / "create.sql").unlink()
    write(tmp_path, "0001_a.sql", "SELECT 1;")
    write(tmp_path, "0001_b.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="share a version"):
        load_migrations(tmp_path)
