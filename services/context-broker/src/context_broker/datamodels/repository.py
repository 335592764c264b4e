"""SQL for MIM2 validation modes (migration 0007) and the conformance report's scan."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from context_broker.entities.repository import COLUMNS, StoredEntity, entity_of


async def modes(conn: asyncpg.Connection, tenant: str) -> dict[str, str]:
    rows = await conn.fetch("SELECT type, mode FROM validation_mode WHERE tenant = $1", tenant)
    return {r["type"]: r["mode"] for r in rows}


async def set_mode(conn: asyncpg.Connection, tenant: str, type_iri: str, mode: str) -> None:
    await conn.execute(
        "INSERT INTO validation_mode (tenant, type, mode) VALUES ($1, $2, $3) "
        "ON CONFLICT (tenant, type) DO UPDATE SET mode = $3, modified_at = now()",
        tenant,
        type_iri,
        mode,
    )


async def drop_mode(conn: asyncpg.Connection, tenant: str, type_iri: str) -> bool:
    done = await conn.fetchval(
        "DELETE FROM validation_mode WHERE tenant = $1 AND type = $2 RETURNING 1", tenant, type_iri
    )
    return done is not None


async def entities_of_type(
    conn: asyncpg.Connection, tenant: str, type_iri: str, batch: int = 500
) -> AsyncIterator[StoredEntity]:
    """Every entity of the type in the tenant, read by a cursor in pages (constant memory);
    ``conn`` must be in a transaction."""
    cursor = conn.cursor(
        f"SELECT {COLUMNS} FROM entity "  # noqa: S608 - constant
        "WHERE tenant = $1 AND types @> $2::text[] ORDER BY id",
        tenant,
        [type_iri],
        prefetch=batch,
    )
    async for r in cursor:
        yield entity_of(r)
