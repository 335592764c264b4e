"""SQL for API clients: one bound statement per call, on the unit of work's connection."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

_INSERT = (
    "INSERT INTO api_client (id, name, roles, key_prefix, key_sha256) "
    "VALUES ($1, $2, $3, $4, $5) RETURNING created_at"
)
_GET = "SELECT id, name, roles, key_prefix, created_at, revoked_at FROM api_client WHERE id = $1"


async def insert(
    conn: asyncpg.Connection,
    cid: uuid.UUID,
    name: str,
    roles: list[str],
    prefix: str,
    digest: bytes,
) -> datetime:
    created: datetime = await conn.fetchval(_INSERT, cid, name, roles, prefix, digest)
    return created


async def get(conn: asyncpg.Connection, cid: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, cid)
