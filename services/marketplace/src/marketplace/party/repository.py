"""SQL for organizations (bound parameters only)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = text(
    "INSERT INTO organization (id, name, status, resource) "
    "VALUES (:id, :name, :status, CAST(:resource AS jsonb))"
)
_GET = text("SELECT resource FROM organization WHERE id = :id")
_LIST = text(
    "SELECT resource, count(*) OVER () AS total FROM organization "
    "ORDER BY created_at, id OFFSET :offset LIMIT :limit"
)
_COUNT = text("SELECT count(*) FROM organization")
_DELETE = text("DELETE FROM organization WHERE id = :id")


async def insert(
    conn: AsyncConnection, oid: uuid.UUID, resource: str, name: str, status: str | None
) -> None:
    await conn.execute(_INSERT, {"id": oid, "name": name, "status": status, "resource": resource})


async def get(conn: AsyncConnection, oid: uuid.UUID) -> dict[str, Any] | None:
    row = (await conn.execute(_GET, {"id": oid})).first()
    return None if row is None else dict(row[0])


async def page(conn: AsyncConnection, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows = (await conn.execute(_LIST, {"offset": offset, "limit": limit})).all()
    if rows:
        return [dict(r[0]) for r in rows], int(rows[0][1])
    total = (await conn.execute(_COUNT)).scalar_one()
    return [], int(total)


async def delete(conn: AsyncConnection, oid: uuid.UUID) -> bool:
    result = await conn.execute(_DELETE, {"id": oid})
    return bool(result.rowcount)
