"""SQL for organizations: one bound statement per call, on the unit of work's connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from mims_shared.db import jsonb

_INSERT = "INSERT INTO organization (id, name, status, resource) VALUES ($1, $2, $3, $4)"
_GET = "SELECT resource FROM organization WHERE id = $1"
_LIST = (
    "SELECT resource, count(*) OVER () AS total FROM organization "
    "ORDER BY created_at, id OFFSET $1 LIMIT $2"
)
_COUNT = "SELECT count(*) FROM organization"
_DELETE = "DELETE FROM organization WHERE id = $1 RETURNING 1"


async def insert(
    conn: asyncpg.Connection,
    oid: uuid.UUID,
    name: str,
    status: str | None,
    resource: dict[str, Any],
) -> None:
    await conn.execute(_INSERT, oid, name, status, jsonb(resource))


async def get(conn: asyncpg.Connection, oid: uuid.UUID) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await conn.fetchval(_GET, oid)
    return found


async def page(
    conn: asyncpg.Connection, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    rows = await conn.fetch(_LIST, offset, limit)
    if rows:
        return [r["resource"] for r in rows], int(rows[0]["total"])
    return [], int(await conn.fetchval(_COUNT))


async def delete(conn: asyncpg.Connection, oid: uuid.UUID) -> bool:
    return await conn.fetchval(_DELETE, oid) is not None
