"""SQL for entities (bound parameters only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = text(
    "INSERT INTO entity (tenant, id, types, attrs, context) "
    "VALUES (:tenant, :id, :types, CAST(:attrs AS jsonb), CAST(:context AS jsonb)) "
    "ON CONFLICT (tenant, id) DO NOTHING RETURNING created_at"
)
_GET = text(
    "SELECT types, attrs, context, created_at, modified_at FROM entity "
    "WHERE tenant = :tenant AND id = :id"
)
_DELETE = text("DELETE FROM entity WHERE tenant = :tenant AND id = :id")


async def insert(
    conn: AsyncConnection, tenant: str, eid: str, types: list[str], attrs: str, context: str | None
) -> bool:
    params = {"tenant": tenant, "id": eid, "types": types, "attrs": attrs, "context": context}
    return (await conn.execute(_INSERT, params)).first() is not None


async def get(conn: AsyncConnection, tenant: str, eid: str) -> dict[str, Any] | None:
    row = (await conn.execute(_GET, {"tenant": tenant, "id": eid})).first()
    if row is None:
        return None
    return {
        "types": row[0],
        "attrs": row[1],
        "context": row[2],
        "createdAt": row[3],
        "modifiedAt": row[4],
    }


async def delete(conn: AsyncConnection, tenant: str, eid: str) -> bool:
    result = await conn.execute(_DELETE, {"tenant": tenant, "id": eid})
    return bool(result.rowcount)
