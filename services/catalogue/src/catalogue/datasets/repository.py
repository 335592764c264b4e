"""SQL for datasets: one bound statement per call, on the unit of work's connection."""

from __future__ import annotations

from typing import Any

import asyncpg

from mims_shared.db import jsonb

_INSERT = (
    "INSERT INTO dataset (id, record) VALUES ($1, $2) "
    "ON CONFLICT (id) DO NOTHING RETURNING issued, modified"
)
_GET = "SELECT id, record, issued, modified FROM dataset WHERE id = $1"
_LIST = (
    "SELECT id, record, issued, modified, count(*) OVER () AS total FROM dataset "
    "ORDER BY modified DESC, id OFFSET $1 LIMIT $2"
)
_COUNT = "SELECT count(*) FROM dataset"
_DELETE = "DELETE FROM dataset WHERE id = $1 RETURNING 1"


async def insert(
    conn: asyncpg.Connection, did: str, record: dict[str, Any]
) -> asyncpg.Record | None:
    """The (issued, modified) stamps, or None when the id is taken."""
    return await conn.fetchrow(_INSERT, did, jsonb(record))


async def get(conn: asyncpg.Connection, did: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, did)


async def page(
    conn: asyncpg.Connection, offset: int, limit: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(_LIST, offset, limit)
    if rows:
        return rows, int(rows[0]["total"])
    return [], int(await conn.fetchval(_COUNT))


async def delete(conn: asyncpg.Connection, did: str) -> bool:
    return await conn.fetchval(_DELETE, did) is not None
