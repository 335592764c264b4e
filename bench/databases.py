"""The benchmark's own databases: each run names its databases after itself and drops them."""

from __future__ import annotations

import asyncpg

from mims_shared.db import database_name, maintenance_url


async def drop_databases(urls: list[str]) -> None:
    """Drop the databases of these URLs (a run's own; a 100k-entity broker with its history
    is gigabytes, and a server keeps what is not dropped)."""
    if not urls:
        return
    conn = await asyncpg.connect(maintenance_url(urls[0]))
    try:
        for url in urls:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()
