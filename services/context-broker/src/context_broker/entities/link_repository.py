"""SQL for Linked Entity Retrieval (ETSI GS CIM 009 V1.8.1, 4.5.23): the targets of one
level of relationships, fetched in one bound statement."""

from __future__ import annotations

import asyncpg

from context_broker.entities.repository import COLUMNS, StoredEntity, entity_of

_GET_MANY = f"SELECT {COLUMNS} FROM entity WHERE tenant = $1 AND id = ANY($2::text[])"  # noqa: S608 - constant


async def get_many(
    conn: asyncpg.Connection, tenant: str, ids: list[str]
) -> dict[str, StoredEntity]:
    """The entities of ``tenant`` among ``ids`` that exist, by id."""
    if not ids:
        return {}
    rows = await conn.fetch(_GET_MANY, tenant, ids)
    return {row["id"]: entity_of(row) for row in rows}
