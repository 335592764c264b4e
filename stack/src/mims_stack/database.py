"""Finding the PostgreSQL server and preparing each service's own database on it."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from mims_shared.db import database_name, database_url_for, maintenance_url
from mims_shared.migrations import ensure_database, migrate
from mims_stack.embedded import EmbeddedPostgres
from mims_stack.services import SERVICES, ServiceSpec

DATA_DIR = Path(".data/postgres")


def server(data_dir: Path = DATA_DIR) -> tuple[str, EmbeddedPostgres | None]:
    """``DATABASE_URL`` when set, else the embedded server (started if needed)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        return configured, None
    embedded = EmbeddedPostgres(data_dir)
    return embedded.start(), embedded


async def prepare(
    server_url: str,
    services: tuple[ServiceSpec, ...] = SERVICES,
    database_names: dict[str, str] | None = None,
) -> dict[str, str]:
    """Create and migrate each service's database; ``{service: sqlalchemy_url}``."""
    urls: dict[str, str] = {}
    for svc in services:
        name = (database_names or {}).get(svc.name, svc.database)
        url = database_url_for(server_url, name)
        await ensure_database(url)
        await migrate(url, svc.migrations)
        urls[svc.name] = url
    return urls


async def drop(urls: list[str]) -> None:
    """Drop the databases of these URLs, all on one server (a test run's or a benchmark
    run's own, named after the run; a server keeps what is not dropped)."""
    if not urls:
        return
    conn = await asyncpg.connect(maintenance_url(urls[0]))
    try:
        for url in urls:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()
