"""SQL for datasets (bound parameters only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_INSERT = text(
    "INSERT INTO dataset (id, record) VALUES (:id, CAST(:record AS jsonb)) "
    "ON CONFLICT (id) DO NOTHING RETURNING issued, modified"
)
_GET = text("SELECT record, issued, modified FROM dataset WHERE id = :id")
_LIST = text(
    "SELECT id, record, issued, modified, count(*) OVER () FROM dataset "
    "ORDER BY modified DESC, id OFFSET :offset LIMIT :limit"
)
_COUNT = text("SELECT count(*) FROM dataset")
_DELETE = text("DELETE FROM dataset WHERE id = :id")

Row = tuple[dict[str, Any], Any, Any]


async def insert(conn: AsyncConnection, did: str, record: str) -> tuple[Any, Any] | None:
    row = (await conn.execute(_INSERT, {"id": did, "record": record})).first()
    return None if row is None else (row[0], row[1])


async def get(conn: AsyncConnection, did: str) -> Row | None:
    row = (await conn.execute(_GET, {"id": did})).first()
    return None if row is None else (dict(row[0]), row[1], row[2])


async def page(
    conn: AsyncConnection, offset: int, limit: int
) -> tuple[list[tuple[str, dict[str, Any], Any, Any]], int]:
    rows = (await conn.execute(_LIST, {"offset": offset, "limit": limit})).all()
    if rows:
        return [(r[0], dict(r[1]), r[2], r[3]) for r in rows], int(rows[0][4])
    return [], int((await conn.execute(_COUNT)).scalar_one())


async def delete(conn: AsyncConnection, did: str) -> bool:
    return bool((await conn.execute(_DELETE, {"id": did})).rowcount)
