"""SQL for context discovery: what the entities of a tenant hold, folded by PostgreSQL.

Types and attribute names are the expanded IRIs stored in ``entity.types`` and as keys of
``entity.attrs``; an attribute is one instance object or an array of them, each with its
``type`` (Property, Relationship, GeoProperty, ...). In the default (lax) mode of SQL/JSON
path, ``$.type`` reads the ``type`` of one instance and of every instance of an array.
One statement per question.

A reader limited to some entity types (``visible``, ngsild/visibility.py) learns only of the
entities it may see, and of their visible types: every statement takes the type names as a
nullable array (NULL: no limit) and filters with ``type_name`` (migration 0009).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


def _seen(param: str) -> str:
    """An entity the reader may see: ``param`` holds the visible type names (NULL: all)."""
    return (
        f"({param}::text[] IS NULL"  # noqa: S608
        f" OR EXISTS (SELECT 1 FROM unnest(types) AS s WHERE type_name(s) = ANY({param})))"
    )


def _seen_type(param: str) -> str:
    """A type ``t`` the reader may see (``param`` as for :func:`_seen`)."""
    return f"({param}::text[] IS NULL OR type_name(t) = ANY({param}))"


# Constant SQL: the fragments above name a parameter, every value is bound.
_TYPES = (
    "SELECT DISTINCT t FROM entity CROSS JOIN LATERAL unnest(types) AS t "  # noqa: S608
    "WHERE tenant = $1 AND " + _seen_type("$2")
)
_TYPES_WITH_ATTRIBUTES = (
    "SELECT t, coalesce(array_agg(DISTINCT k) FILTER (WHERE k IS NOT NULL), '{}') AS names "
    "FROM entity CROSS JOIN LATERAL unnest(types) AS t "
    "LEFT JOIN LATERAL jsonb_object_keys(attrs) AS k ON true "
    "WHERE tenant = $1 AND " + _seen_type("$2") + " GROUP BY t"
)
# The entities of one type (GIN index on types), their count, and per attribute name the
# attribute types its instances have. The outer join keeps one row when no entity has any
# attribute, so that the count is always there.
_TYPE_INFO = (
    "WITH e AS MATERIALIZED ("  # noqa: S608
    "  SELECT attrs FROM entity WHERE tenant = $1 AND types @> ARRAY[$2::text] AND "
    + _seen("$3")
    + "), a AS ("
    "  SELECT kv.key AS name, array_agg(DISTINCT t.v #>> '{}') AS kinds"
    "  FROM e CROSS JOIN LATERAL jsonb_each(e.attrs) AS kv"
    "  CROSS JOIN LATERAL jsonb_path_query(kv.value, '$.type') AS t(v)"
    "  GROUP BY kv.key"
    ") "
    "SELECT (SELECT count(*) FROM e) AS entities, a.name, a.kinds "
    "FROM (SELECT 1) AS one LEFT JOIN a ON true"
)
_ATTRIBUTES = (
    "SELECT DISTINCT k FROM entity CROSS JOIN LATERAL jsonb_object_keys(attrs) AS k "  # noqa: S608
    "WHERE tenant = $1 AND " + _seen("$2")
)
_ATTRIBUTES_WITH_TYPES = (
    "SELECT k, array_agg(DISTINCT t) AS types "
    "FROM entity CROSS JOIN LATERAL jsonb_object_keys(attrs) AS k "
    "CROSS JOIN LATERAL unnest(types) AS t "
    "WHERE tenant = $1 AND " + _seen_type("$2") + " GROUP BY k"
)
# The entities having one attribute: how many instances it has in all, the attribute types
# of those instances, and the entity types of those entities.
_ATTRIBUTE_INFO = (
    "WITH a AS MATERIALIZED ("  # noqa: S608
    "  SELECT types, attrs -> $2::text AS v FROM entity WHERE tenant = $1 AND attrs ? $2::text"
    "  AND " + _seen("$3") + ") "
    "SELECT (SELECT count(*) FROM a) AS entities, "
    "  (SELECT coalesce(sum(CASE jsonb_typeof(v) WHEN 'array' THEN jsonb_array_length(v)"
    "   ELSE 1 END), 0) FROM a) AS instances, "
    "  ARRAY(SELECT DISTINCT t.v #>> '{}' FROM a"
    "   CROSS JOIN LATERAL jsonb_path_query(a.v, '$.type') AS t(v)) AS kinds, "
    "  ARRAY(SELECT DISTINCT t FROM a CROSS JOIN LATERAL unnest(a.types) AS t"
    "   WHERE " + _seen_type("$3") + ") AS types"
)


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """An entity type: how many entities have it; per attribute IRI, the attribute types."""

    entities: int
    attributes: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """An attribute: the entities and instances having it, their attribute and entity types."""

    entities: int
    instances: int
    kinds: list[str]
    types: list[str]


Visible = list[str] | None


async def entity_types(conn: asyncpg.Connection, tenant: str, visible: Visible) -> list[str]:
    return [r[0] for r in await conn.fetch(_TYPES, tenant, visible)]


async def entity_types_with_attributes(
    conn: asyncpg.Connection, tenant: str, visible: Visible
) -> dict[str, list[str]]:
    return {r[0]: list(r[1]) for r in await conn.fetch(_TYPES_WITH_ATTRIBUTES, tenant, visible)}


async def entity_type(
    conn: asyncpg.Connection, tenant: str, iri: str, visible: Visible
) -> TypeInfo:
    rows = await conn.fetch(_TYPE_INFO, tenant, iri, visible)
    attributes = {r["name"]: list(r["kinds"]) for r in rows if r["name"] is not None}
    return TypeInfo(int(rows[0]["entities"]), attributes)


async def attributes(conn: asyncpg.Connection, tenant: str, visible: Visible) -> list[str]:
    return [r[0] for r in await conn.fetch(_ATTRIBUTES, tenant, visible)]


async def attributes_with_types(
    conn: asyncpg.Connection, tenant: str, visible: Visible
) -> dict[str, list[str]]:
    return {r[0]: list(r[1]) for r in await conn.fetch(_ATTRIBUTES_WITH_TYPES, tenant, visible)}


async def attribute(
    conn: asyncpg.Connection, tenant: str, iri: str, visible: Visible
) -> AttributeInfo:
    row = await conn.fetchrow(_ATTRIBUTE_INFO, tenant, iri, visible)
    assert row is not None  # an aggregate without GROUP BY always gives one row
    return AttributeInfo(
        int(row["entities"]), int(row["instances"]), list(row["kinds"]), list(row["types"])
    )
