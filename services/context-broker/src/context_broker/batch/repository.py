"""SQL for batch entity operations: a constant number of statements per batch, whatever its size.

Rows travel as parallel arrays (one element per entity) and are turned back into rows with
``unnest``. ``attrs`` is JSON text cast to ``jsonb`` on the server; ``types`` and ``scopes``
are JSON arrays as text (``unnest`` cannot carry a ``text[]`` per row), made ``text[]`` again
in SQL. Rows are sent in id order so that concurrent batches lock rows in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from context_broker.entities.repository import COLUMNS, StoredEntity, entity_of
from context_broker.ngsild.geo import geo_box_of

# The parts every statement shares: $1 tenant, $2-$5 the rows, $6 the time of the batch,
# $7 the index box of each row's location (ngsild/geo.py geo_box_of), as text, $8 the
# stamps of the instances without their own (StoredEntity.stamped).
# Constant SQL, every value bound.
_INSERT_ROWS = """
INSERT INTO entity (tenant, id, types, attrs, scopes, created_at, modified_at, geo_box,
                    stamped)
SELECT $1, r.id,
       ARRAY(SELECT jsonb_array_elements_text(r.types::jsonb)),
       r.attrs::jsonb,
       CASE WHEN r.scopes IS NULL THEN NULL
            ELSE ARRAY(SELECT jsonb_array_elements_text(r.scopes::jsonb)) END,
       $6, $6, r.geo::box, r.stamped
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $7::text[], $8::text[])
     AS r(id, types, attrs, scopes, geo, stamped)
"""
_INSERT = (
    _INSERT_ROWS
    + """ON CONFLICT (tenant, id) DO NOTHING
RETURNING id
"""
)
_UPSERT = (
    _INSERT_ROWS
    + """ON CONFLICT (tenant, id) DO UPDATE SET
    types = EXCLUDED.types, attrs = EXCLUDED.attrs, scopes = EXCLUDED.scopes,
    modified_at = EXCLUDED.modified_at, geo_box = EXCLUDED.geo_box, stamped = EXCLUDED.stamped
RETURNING id, (xmax = 0) AS created
"""
)
_UPDATE = """
UPDATE entity AS e SET
    types = ARRAY(SELECT jsonb_array_elements_text(r.types::jsonb)),
    attrs = r.attrs::jsonb,
    scopes = CASE WHEN r.scopes IS NULL THEN NULL
                  ELSE ARRAY(SELECT jsonb_array_elements_text(r.scopes::jsonb)) END,
    modified_at = $6,
    geo_box = r.geo::box,
    stamped = r.stamped
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $7::text[], $8::text[])
     AS r(id, types, attrs, scopes, geo, stamped)
WHERE e.tenant = $1 AND e.id = r.id
"""
_LOCK = f"""
SELECT {COLUMNS} FROM entity
WHERE tenant = $1 AND id = ANY($2::text[])
ORDER BY id
FOR UPDATE
"""  # noqa: S608 - constant
_DELETE = "DELETE FROM entity WHERE tenant = $1 AND id = ANY($2::text[]) RETURNING id"


def _rows(entities: Iterable[StoredEntity], now: Any) -> tuple[Any, ...]:
    """The bound parameters $2-$8 of a statement."""
    ids, types, attrs, scopes, geos, stamps = _columns(entities)
    return ids, types, attrs, scopes, now, geos, stamps


def _columns(
    entities: Iterable[StoredEntity],
) -> tuple[list[str], list[str], list[str], list[str | None], list[str | None], list[str | None]]:
    """The rows as parallel arrays, in id order: ids, types, attrs, scopes, geo boxes,
    stamps."""
    ids: list[str] = []
    types: list[str] = []
    attrs: list[str] = []
    scopes: list[str | None] = []
    geos: list[str | None] = []
    stamps: list[str | None] = []
    for e in sorted(entities, key=lambda e: e.id):
        ids.append(e.id)
        types.append(orjson.dumps(e.types).decode())
        attrs.append(orjson.dumps(e.attrs).decode())
        scopes.append(None if e.scopes is None else orjson.dumps(e.scopes).decode())
        geos.append(geo_box_of(e.attrs))
        stamps.append(e.stamped)
    return ids, types, attrs, scopes, geos, stamps


async def insert_new(
    conn: asyncpg.Connection, tenant: str, entities: list[StoredEntity], now: datetime
) -> set[str]:
    """Insert the entities whose id is free in the tenant; the ids inserted."""
    if not entities:
        return set()
    rows = await conn.fetch(_INSERT, tenant, *_rows(entities, now))
    return {r["id"] for r in rows}


async def upsert(
    conn: asyncpg.Connection, tenant: str, entities: list[StoredEntity], now: datetime
) -> dict[str, bool]:
    """Insert or replace each entity whole (its creation time is kept); id -> created."""
    if not entities:
        return {}
    rows = await conn.fetch(_UPSERT, tenant, *_rows(entities, now))
    return {r["id"]: r["created"] for r in rows}


async def lock(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> dict[str, StoredEntity]:
    """The stored entities among ``ids``, locked until the end of the transaction."""
    if not ids:
        return {}
    rows = await conn.fetch(_LOCK, tenant, sorted(set(ids)))
    return {r["id"]: entity_of(r) for r in rows}


async def update(
    conn: asyncpg.Connection, tenant: str, entities: list[StoredEntity], now: datetime
) -> None:
    """Write back entities read with :func:`lock` (types, attributes, scopes)."""
    if entities:
        await conn.execute(_UPDATE, tenant, *_rows(entities, now))


async def delete(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> set[str]:
    """Delete the entities among ``ids``; the ids deleted."""
    if not ids:
        return set()
    return {r["id"] for r in await conn.fetch(_DELETE, tenant, sorted(set(ids)))}
