"""Finding the PostgreSQL server and preparing each service's own database on it."""

from __future__ import annotations

import os
from pathlib import Path

from mims_shared.db import database_url_for
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
