"""SQL for every TMF resource: bound statements on the unit of work's connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from marketplace.events.repository import event_arrays, fan_out, queued
from marketplace.tmf.events import Event
from mims_shared.db import jsonb

# A write and the fan-out of its events to the outbox in one statement (one round trip,
# atomic without a transaction of its own).
_INSERT = (
    "WITH w AS (INSERT INTO tmf_resource (kind, id, resource) VALUES ($1, $2, $3::jsonb)) "  # noqa: S608
    + fan_out(4)
)
_INSERT_MANY = (
    "INSERT INTO tmf_resource (kind, id, resource) "
    "SELECT $1, i, r FROM unnest($2::uuid[], $3::jsonb[]) AS t(i, r)"
)
_GET = "SELECT resource FROM tmf_resource WHERE kind = $1 AND id = $2"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
_UPDATE = (
    "WITH w AS (UPDATE tmf_resource SET resource = $3::jsonb, updated_at = clock_timestamp() "  # noqa: S608
    "WHERE kind = $1 AND id = $2) " + fan_out(4)
)
_DELETE = "DELETE FROM tmf_resource WHERE kind = $1 AND id = $2 RETURNING resource"
_MANY = "SELECT kind, id, resource FROM tmf_resource WHERE id = ANY($1::uuid[])"


def _where(statuses: str, term: bool, predicate: bool, first: int, t: str = "", r: str = "") -> str:
    """The filter clause; the filters' parameters are numbered from ``first`` (status, term,
    predicate). ``t`` prefixes the kind, status and term columns, ``r`` the resource. One
    status is an equality, so that the index on (kind, [term,] status, created_at) also
    gives the order."""
    clause = f"WHERE {t}kind = $1"
    if statuses:
        clause += (
            f" AND {t}status = ${first}::text"
            if statuses == "one"
            else f" AND {t}status = ANY(${first}::text[])"
        )
        first += 1
    if term:
        clause += f" AND {t}term = ${first}::text"
        first += 1
    if predicate:
        clause += f" AND {r}resource @@ ${first}::jsonpath"
    return clause


# A page and, in the same statement, the count of all matches. One constant statement per
# combination of filters, never text from input.
def _page(s: str, term: bool, p: bool) -> str:
    table = "tmf_term" if term else "tmf_resource"
    if p:
        # The matching rows must be read anyway: a window count over them avoids reading
        # them twice.
        source = "tmf_term t JOIN tmf_resource r ON r.id = t.id" if term else "tmf_resource r"
        alias = "t." if term else "r."
        return (
            f"SELECT r.resource, count(*) OVER () AS total FROM {source} "  # noqa: S608
            f"{_where(s, term, p, 4, alias, 'r.')} "
            f"ORDER BY {alias}created_at, {alias}id OFFSET $2 LIMIT $3"
        )
    # Without a path predicate the indexes answer alone: the count (run once) and the page
    # of ids in order, so that only the rows shown are read from the table.
    where = _where(s, term, p, 4)
    return (
        f"SELECT r.resource, (SELECT count(*) FROM {table} {where}) AS total "  # noqa: S608
        f"FROM (SELECT id, created_at FROM {table} {where} "
        "ORDER BY created_at, id OFFSET $2 LIMIT $3) AS p "
        "JOIN tmf_resource r ON r.id = p.id ORDER BY p.created_at, p.id"
    )


def _count(s: str, term: bool, p: bool) -> str:
    if term and p:
        return (
            "SELECT count(*) FROM tmf_term t JOIN tmf_resource r ON r.id = t.id "  # noqa: S608
            + _where(s, term, p, 2, "t.", "r.")
        )
    table = "tmf_term" if term else "tmf_resource"
    return f"SELECT count(*) FROM {table} {_where(s, term, p, 2)}"  # noqa: S608


_SHAPES = [
    (s, term, p) for s in ("", "one", "many") for term in (False, True) for p in (False, True)
]
_PAGES = {key: _page(*key) for key in _SHAPES}
_COUNTS = {key: _count(*key) for key in _SHAPES}


async def insert(
    conn: asyncpg.Connection,
    kind: str,
    rid: uuid.UUID,
    resource: dict[str, Any],
    events: list[Event] | None = None,
) -> int:
    """Store a new resource and queue its ``events``; the number of deliveries queued."""
    status = await conn.execute(_INSERT, kind, rid, jsonb(resource), *event_arrays(events or []))
    return queued(status)


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
    conn: asyncpg.Connection,
    kind: str,
    rid: uuid.UUID,
    resource: dict[str, Any],
    events: list[Event] | None = None,
) -> int:
    """Replace a resource and queue its ``events``; the number of deliveries queued."""
    status = await conn.execute(_UPDATE, kind, rid, jsonb(resource), *event_arrays(events or []))
    return queued(status)


async def delete(conn: asyncpg.Connection, kind: str, rid: uuid.UUID) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await conn.fetchval(_DELETE, kind, rid)
    return found


async def page(
    conn: asyncpg.Connection,
    kind: str,
    statuses: list[str] | None,
    term: str | None,
    predicate: str | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page in creation order and the number of all matches. ``term`` is a reference
    term (``category.id=cat-4``, see migration 0003) answered from its index."""
    shape = "" if statuses is None else "one" if len(statuses) == 1 else "many"
    key = (shape, term is not None, predicate is not None)
    status_arg = statuses[0] if statuses is not None and len(statuses) == 1 else statuses
    filters = [f for f in (status_arg, term, predicate) if f is not None]
    rows = await conn.fetch(_PAGES[key], kind, offset, limit, *filters)
    if rows:
        return [r["resource"] for r in rows], int(rows[0]["total"])
    return [], int(await conn.fetchval(_COUNTS[key], kind, *filters))


async def many(
    conn: asyncpg.Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, dict[str, Any]]]:
    """The resources with these ids, whatever their kind: ``{id: (kind, resource)}``."""
    rows = await conn.fetch(_MANY, ids)
    return {r["id"]: (r["kind"], r["resource"]) for r in rows}
