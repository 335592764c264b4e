"""SQL for the catalogue document: a page of records of the listed kinds, in a stable order."""

from __future__ import annotations

from datetime import datetime

import asyncpg

_PAGE = (
    "SELECT kind, id, parent, source, record, issued, modified FROM record "
    "WHERE kind = ANY($1::text[]) AND ($2::timestamptz IS NULL OR modified >= $2) "
    "ORDER BY kind, id OFFSET $3 LIMIT $4"
)
_COUNT = (
    "SELECT count(*) FROM record "
    "WHERE kind = ANY($1::text[]) AND ($2::timestamptz IS NULL OR modified >= $2)"
)


async def count(conn: asyncpg.Connection, kinds: list[str], since: datetime | None) -> int:
    return int(await conn.fetchval(_COUNT, kinds, since))


async def page(
    conn: asyncpg.Connection, kinds: list[str], since: datetime | None, offset: int, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(_PAGE, kinds, since, offset, limit))
