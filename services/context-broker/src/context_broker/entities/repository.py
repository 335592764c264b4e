"""SQL for entities: one bound statement per call, on the unit of work's connection."""

from __future__ import annotations

from typing import Any

import asyncpg

from mims_shared.db import jsonb

_INSERT = (
    "INSERT INTO entity (tenant, id, types, attrs, context) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (tenant, id) DO NOTHING RETURNING created_at"
)
_GET = (
    "SELECT types, attrs, context, created_at, modified_at FROM entity "
    "WHERE tenant = $1 AND id = $2"
)
_DELETE = "DELETE FROM entity WHERE tenant = $1 AND id = $2 RETURNING 1"


async def insert(
    conn: asyncpg.Connection,
    tenant: str,
    eid: str,
    types: list[str],
    attrs: dict[str, Any],
    context: Any,
) -> bool:
    """True when created, False when an entity with this id exists in the tenant."""
    ctx = None if context is None else jsonb(context)
    return await conn.fetchval(_INSERT, tenant, eid, types, jsonb(attrs), ctx) is not None


async def get(conn: asyncpg.Connection, tenant: str, eid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, tenant, eid)


async def delete(conn: asyncpg.Connection, tenant: str, eid: str) -> bool:
    return await conn.fetchval(_DELETE, tenant, eid) is not None
