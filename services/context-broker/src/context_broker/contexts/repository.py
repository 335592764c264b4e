"""SQL for the @contexts the broker stores (table ``jsonld_context``, migration 0003).

Rows are scoped by tenant for listing, serving and deleting; the broker itself resolves a
hosted @context by its id alone (its URL names no tenant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mims_shared.db import jsonb

_COLUMNS = "id, kind, url, body, created_at, last_usage, number_of_hits"
_INSERT = (
    "INSERT INTO jsonld_context (id, tenant, kind, body, created_at) VALUES ($1, $2, $3, $4, $5)"
)
_GET = f"SELECT {_COLUMNS} FROM jsonld_context WHERE tenant = $1 AND id = $2"  # noqa: S608
_BODY = "SELECT body FROM jsonld_context WHERE id = $1"
_LIST = (
    f"SELECT {_COLUMNS} FROM jsonld_context "  # noqa: S608 - constant
    "WHERE tenant = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY created_at, id"
)
_DELETE = "DELETE FROM jsonld_context WHERE tenant = $1 AND id = $2 RETURNING kind"
_ADD_USAGE = (
    "UPDATE jsonld_context AS c SET number_of_hits = c.number_of_hits + u.hits, "
    "last_usage = greatest(c.last_usage, u.last) "
    "FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(id, hits, last) "
    "WHERE c.id = u.id"
)


@dataclass(frozen=True, slots=True)
class StoredContext:
    id: str
    kind: str
    url: str | None
    body: Any
    created_at: datetime
    last_usage: datetime | None
    number_of_hits: int


def _stored(row: asyncpg.Record) -> StoredContext:
    return StoredContext(
        row["id"],
        row["kind"],
        row["url"],
        row["body"],
        row["created_at"],
        row["last_usage"],
        int(row["number_of_hits"]),
    )


async def insert(
    conn: asyncpg.Connection, tenant: str, cid: str, kind: str, body: Any, created_at: datetime
) -> None:
    await conn.execute(_INSERT, cid, tenant, kind, jsonb(body), created_at)


async def get(conn: asyncpg.Connection, tenant: str, cid: str) -> StoredContext | None:
    row = await conn.fetchrow(_GET, tenant, cid)
    return None if row is None else _stored(row)


async def body(conn: asyncpg.Connection, cid: str) -> Any | None:
    """The document of the @context ``cid`` whatever its tenant (the broker resolving it)."""
    return await conn.fetchval(_BODY, cid)


async def list_(conn: asyncpg.Connection, tenant: str, kind: str | None) -> list[StoredContext]:
    return [_stored(r) for r in await conn.fetch(_LIST, tenant, kind)]


async def delete(conn: asyncpg.Connection, tenant: str, cid: str) -> bool:
    return await conn.fetchval(_DELETE, tenant, cid) is not None


async def add_usage(
    conn: asyncpg.Connection, ids: list[str], hits: list[int], last: list[datetime]
) -> None:
    """Add the hits counted in memory to the stored counters, in one statement."""
    if ids:
        await conn.execute(_ADD_USAGE, ids, hits, last)
