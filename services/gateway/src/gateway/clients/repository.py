"""SQL for API clients (bound parameters only)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = text(
    "INSERT INTO api_client (id, name, roles, key_prefix, key_sha256) "
    "VALUES (:id, :name, :roles, :prefix, :digest) RETURNING created_at"
)
_GET = text(
    "SELECT id, name, roles, key_prefix, created_at, revoked_at FROM api_client WHERE id = :id"
)


async def insert(
    conn: AsyncConnection, cid: uuid.UUID, name: str, roles: list[str], prefix: str, digest: bytes
) -> Any:
    params = {"id": cid, "name": name, "roles": roles, "prefix": prefix, "digest": digest}
    return (await conn.execute(_INSERT, params)).scalar_one()


async def get(conn: AsyncConnection, cid: uuid.UUID) -> dict[str, Any] | None:
    row = (await conn.execute(_GET, {"id": cid})).mappings().first()
    return None if row is None else dict(row)
