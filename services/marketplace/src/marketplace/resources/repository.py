"""SQL for every TMF resource: bound statements on the unit of work's connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from mims_shared.db import jsonb

_INSERT = "INSERT INTO tmf_resource (kind, id, resource) VALUES ($1, $2, $3::jsonb)"
_INSERT_MANY = (
    "INSERT INTO tmf_resource (kind, id, resource) "
    "SELECT $1, i, r FROM unnest($2::uuid[], $3::jsonb[]) AS t(i, r)"
)
_GET = "SELECT resource FROM tmf_resource WHERE kind = $1 AND id = $2"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
_UPDATE = (
    "UPDATE tmf_resource SET resource = $3::jsonb, updated_at = clock_timestamp() "
    "WHERE kind = $1 AND id = $2"
)
_DELETE = "DELETE FROM tmf_resource WHERE kind = $1 AND id = $2 RETURNING resource"
_PAGE = (
    "SELECT resource, count(*) OVER () AS total FROM tmf_resource WHERE kind = $1 "
    "ORDER BY created_at, id OFFSET $2 LIMIT $3"
)
_PAGE_FILTERED = (
    "SELECT resource, count(*) OVER () AS total FROM tmf_resource "
    "WHERE kind = $1 AND resource @@ $4::jsonpath ORDER BY created_at, id OFFSET $2 LIMIT $3"
)
_COUNT = "SELECT count(*) FROM tmf_resource WHERE kind = $1"
_COUNT_FILTERED = "SELECT count(*) FROM tmf_resource WHERE kind = $1 AND resource @@ $2::jsonpath"
_MANY = "SELECT kind, id, resource FROM tmf_resource WHERE id = ANY($1::uuid[])"


async def insert(
    conn: asyncpg.Connection, kind: str, rid: uuid.UUID, resource: dict[str, Any]
) -> None:
    await conn.execute(_INSERT, kind, rid, jsonb(resource))


async def insert_many(
    conn: asyncpg.Connection, kind: str, rows: list[tuple[uuid.UUID, dict[str, Any]]]
) -> None:
    """Several resources of one kind in one statement."""
    if rows:
        await conn.execute(_INSERT_MANY, kind, [r[0] for r in rows], [jsonb(r[1]) for r in rows])


async def get(
    conn: asyncpg.Connection, kind: str, rid: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await conn.fetchval(
        _GET_FOR_UPDATE if for_update else _GET, kind, rid
    )
    return found


async def update(
    conn: asyncpg.Connection, kind: str, rid: uuid.UUID, resource: dict[str, Any]
) -> None:
    await conn.execute(_UPDATE, kind, rid, jsonb(resource))


async def delete(conn: asyncpg.Connection, kind: str, rid: uuid.UUID) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await conn.fetchval(_DELETE, kind, rid)
    return found


async def page(
    conn: asyncpg.Connection, kind: str, predicate: str | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A page in creation order and the number of all matches."""
    if predicate is None:
        rows = await conn.fetch(_PAGE, kind, offset, limit)
    else:
        rows = await conn.fetch(_PAGE_FILTERED, kind, offset, limit, predicate)
    if rows:
        return [r["resource"] for r in rows], int(rows[0]["total"])
    if predicate is None:
        return [], int(await conn.fetchval(_COUNT, kind))
    return [], int(await conn.fetchval(_COUNT_FILTERED, kind, predicate))


async def many(
    conn: asyncpg.Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """The resources with these ids, whatever their kind: ``{id: (kind, resource)}``."""
    rows = await conn.fetch(_MANY, ids)
    return {r["id"]: (r["kind"], r["resource"]) for r in rows}
