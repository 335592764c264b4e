"""SQL of entitlements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from marketplace.resources.compose import GUARD, Write


@dataclass(frozen=True)
class Entitlement:
    id: uuid.UUID
    party: str
    tenant: str | None
    datasets: list[str]
    entity_types: list[str]
    actions: list[str]
    purpose: list[str]
    max_count: int | None
    valid_from: datetime
    valid_until: datetime | None
    order_id: uuid.UUID
    product_id: uuid.UUID


# Parameter numbers only, no input, in this text.
_INSERT = (
    "INSERT INTO entitlement (id, party, tenant, datasets, entity_types, actions, purpose, "
    "max_count, valid_from, valid_until, order_id, product_id) "
    "SELECT i, p, t, d::text[], e::text[], a::text[], pu::text[], m, vf, vu, o, pr "
    "FROM unnest(${0}::uuid[], ${1}::text[], ${2}::text[], ${3}::text[], ${4}::text[], "
    "${5}::text[], ${6}::text[], ${7}::int[], ${8}::timestamptz[], ${9}::timestamptz[], "
    "${10}::uuid[], ${11}::uuid[]) AS x(i, p, t, d, e, a, pu, m, vf, vu, o, pr) WHERE {guard}"
)
_COLUMNS = (
    "id, party, tenant, datasets, entity_types, actions, purpose, max_count, valid_from, "
    "valid_until, order_id, product_id"
)
# One constant statement: an absent filter is a NULL parameter.
_WHERE = (
    "WHERE ($1::text IS NULL OR party = $1) "
    "AND ($2::text IS NULL OR $2 = ANY(entity_types)) "
    "AND ($3::text IS NULL OR $3 = ANY(datasets)) "
    "AND ($4::boolean IS FALSE OR tenant IS NOT DISTINCT FROM $5) "
    "AND ($6::timestamptz IS NULL OR (valid_from <= $6 AND (valid_until IS NULL "
    "OR valid_until > $6)))"
)
# Constants joined, no input in them.
_PAGE = (
    f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM entitlement {_WHERE} "  # noqa: S608
    "ORDER BY created_at, id OFFSET $7 LIMIT $8"
)
_COUNT = f"SELECT count(*) FROM entitlement {_WHERE}"  # noqa: S608
_END = (
    "UPDATE entitlement SET valid_until = ${1} WHERE product_id = ${0} "
    "AND (valid_until IS NULL OR valid_until > ${1}) AND {guard}"
)


def insert_many(rows: list[Entitlement]) -> Write:
    """Every entitlement of a completed order, stored with the order's update (the lists
    travel as array literals, one per row: a two-dimensional array would need rows of
    equal length)."""
    return Write(
        lambda first: _INSERT.format(*range(first, first + 12), guard=GUARD),
        (
            [r.id for r in rows],
            [r.party for r in rows],
            [r.tenant for r in rows],
            [_array(r.datasets) for r in rows],
            [_array(r.entity_types) for r in rows],
            [_array(r.actions) for r in rows],
            [_array(r.purpose) for r in rows],
            [r.max_count for r in rows],
            [r.valid_from for r in rows],
            [r.valid_until for r in rows],
            [r.order_id for r in rows],
            [r.product_id for r in rows],
        ),
    )


def _array(values: list[str]) -> str:
    """A PostgreSQL array literal of strings (every element quoted and escaped)."""
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


async def page(
    conn: asyncpg.Connection,
    *,
    party: str | None,
    entity_type: str | None,
    dataset: str | None,
    tenant_given: bool,
    tenant: str | None,
    valid_at: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    args = (party, entity_type, dataset, tenant_given, tenant, valid_at)
    rows = await conn.fetch(_PAGE, *args, offset, limit)
    if rows:
        return [dict(r) for r in rows], int(rows[0]["total"])
    return [], int(await conn.fetchval(_COUNT, *args))


def end_for_product(product_id: uuid.UUID, at: datetime) -> Write:
    """The entitlements of a product end at ``at``, with the product's update."""
    return Write(
        lambda first: _END.format(first, first + 1, guard=GUARD),
        (product_id, at),
    )
