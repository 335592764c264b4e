"""SQL for API clients: one bound statement per call, on the unit of work's connection."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

_COLUMNS = "id, name, roles, tenants, party, key_prefix, created_at, revoked_at"
_INSERT = (
    "INSERT INTO api_client (id, name, roles, tenants, party, key_prefix, key_sha256) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at"
)
_GET = f"SELECT {_COLUMNS} FROM api_client WHERE id = $1"  # noqa: S608 - constant columns
_BY_KEY = f"SELECT {_COLUMNS} FROM api_client WHERE key_sha256 = $1"  # noqa: S608
_REVOKE = (
    "UPDATE api_client SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id"
)


async def insert(
    conn: asyncpg.Connection,
    cid: uuid.UUID,
    name: str,
    roles: list[str],
    tenants: list[str],
    party: str | None,
    prefix: str,
    digest: bytes,
) -> datetime:
    created: datetime = await conn.fetchval(
        _INSERT, cid, name, roles, tenants, party, prefix, digest
    )
    return created


async def get(conn: asyncpg.Connection, cid: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, cid)


async def by_key(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(_BY_KEY, digest)


async def revoke(conn: asyncpg.Connection, cid: uuid.UUID) -> bool:
    return await conn.fetchval(_REVOKE, cid) is not None
