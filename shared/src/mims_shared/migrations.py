"""Plain-SQL migrations, one folder per service (the Flyway way Stellio uses).

Files are named ``NNNN_description.sql`` and applied in order, each in its own transaction,
under an advisory lock so that several replicas starting together apply each file once.
A file changed after it was applied is refused (its checksum is recorded).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from mims_shared.db import database_name, libpq_url, maintenance_url

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Arbitrary constant: the advisory lock key taken while migrating.
_LOCK_KEY = 7_311_482_905

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    """The migrations on disk and those in the database disagree."""


def load_migrations(folder: Path) -> list[Migration]:
    """The migrations in ``folder``, in version order; a stray file is an error."""
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"Migration file {path.name} is not named NNNN_description.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"Two migration files in {folder} share a version number")
    return found


async def ensure_database(sqlalchemy_url: str) -> bool:
    """Create the database named in the URL if it does not exist; True when created."""
    name = database_name(sqlalchemy_url)
    conn = await asyncpg.connect(maintenance_url(sqlalchemy_url), timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        # The name was checked to be a plain identifier by database_name().
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def migrate(sqlalchemy_url: str, folder: Path) -> list[Migration]:
    """Apply the pending migrations of ``folder``; returns those applied now."""
    migrations = load_migrations(folder)
    conn = await asyncpg.connect(libpq_url(sqlalchemy_url), timeout=10)
    applied_now: list[Migration] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(_TABLE)
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
            done = {r["version"]: r["checksum"] for r in rows}
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"Migration {m.version:04d}_{m.name} changed after it was applied"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        m.version,
                        m.name,
                        m.checksum,
                    )
                applied_now.append(m)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
    return applied_now
