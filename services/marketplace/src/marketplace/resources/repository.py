"""SQL for every TMF resource: bound statements on the unit of work's connection."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from marketplace.events.repository import events_write
from marketplace.resources.compose import GUARD, Write, compose
from marketplace.tmf.events import Event
from mims_shared.db import jsonb

_INSERT = "INSERT INTO tmf_resource (kind, id, resource) VALUES ($1, $2, $3::jsonb)"
_INSERT_MANY = (
    "INSERT INTO tmf_resource (kind, id, resource) "
    "SELECT ${0}, i, r FROM unnest(${1}::uuid[], ${2}::jsonb[]) AS t(i, r) WHERE {guard}"
)
_GET = "SELECT resource FROM tmf_resource WHERE kind = $1 AND id = $2"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
# The row's xmin is its version: any committed change gives the row a new one.
_GET_VERSIONED = (
    "SELECT resource, xmin::text::bigint AS version FROM tmf_resource WHERE kind = $1 AND id = $2"
)
_GET_VERSIONED_FOR_UPDATE = _GET_VERSIONED + " FOR UPDATE"
_UPDATE = (
    "UPDATE tmf_resource SET resource = $3::jsonb, updated_at = clock_timestamp() "
    "WHERE kind = $1 AND id = $2"
)
_UPDATE_IF = _UPDATE + " AND xmin = $4::text::xid"
_DELETE_IF = "DELETE FROM tmf_resource WHERE kind = $1 AND id = $2 AND xmin = $3::text::xid"
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
def _page(s: str, term: bool, p: bool, counted: bool) -> str:
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
    # Without a path predicate the indexes answer alone: the count (run once; kept in
    # tmf_count for the kinds that keep reference terms) and the page of ids in order, so
    # that only the rows shown are read from the table.
    where = _where(s, term, p, 4)
    return (
        f"SELECT r.resource, ({_total(s, term, counted, 4)}) AS total "  # noqa: S608
        f"FROM (SELECT id, created_at FROM {table} {where} "
        "ORDER BY created_at, id OFFSET $2 LIMIT $3) AS p "
        "JOIN tmf_resource r ON r.id = p.id ORDER BY p.created_at, p.id"
    )


def _total(s: str, term: bool, counted: bool, first: int) -> str:
    """The count of the matches of a filter without a path predicate."""
    if not counted:
        table = "tmf_term" if term else "tmf_resource"
        return f"SELECT count(*) FROM {table} {_where(s, term, False, first)}"  # noqa: S608
    # tmf_count keeps the totals without a term under term NULL.
    clause = _where(s, term, False, first) + ("" if term else " AND term IS NULL")
    return f"SELECT coalesce(sum(n), 0) FROM tmf_count {clause}"  # noqa: S608


def _count(s: str, term: bool, p: bool, counted: bool) -> str:
    if not p:
        return _total(s, term, counted, 2)
    if term:
        return (
            "SELECT count(*) FROM tmf_term t JOIN tmf_resource r ON r.id = t.id "  # noqa: S608
            + _where(s, term, p, 2, "t.", "r.")
        )
    return f"SELECT count(*) FROM tmf_resource {_where(s, term, p, 2)}"  # noqa: S608


_SHAPES = [
    (s, term, p, counted)
    for s in ("", "one", "many")
    for term in (False, True)
    for p in (False, True)
    for counted in (False, True)
]
_PAGES = {key: _page(*key) for key in _SHAPES}
_COUNTS = {key: _count(*key) for key in _SHAPES}


async def _write(
    conn: asyncpg.Connection, main: str, args: list[Any], events: list[Event], writes: list[Write]
) -> tuple[int, int]:
    """``main`` with its events and further writes in one statement: (rows written,
    deliveries queued)."""
    if events:
        writes = [events_write(events), *writes]
    sql, params = compose(main, args, writes)
    row = await conn.fetchrow(sql, *params)
    assert row is not None
    return int(row["written"]), int(row["queued"])


async def insert(
    conn: asyncpg.Connection,
    kind: str,
    rid: uuid.UUID,
    resource: dict[str, Any],
    events: list[Event] | None = None,
    writes: list[Write] | None = None,
) -> int:
    """Store a new resource with its ``events`` and ``writes`` (one statement); the number
    of deliveries queued."""
    _, queued = await _write(
        conn, _INSERT, [kind, rid, jsonb(resource)], events or [], writes or []
    )
    return queued


def insert_many(kind: str, rows: list[tuple[uuid.UUID, dict[str, Any]]]) -> Write:
    """Several resources of one kind, stored with another write."""
    return Write(
        lambda first: _INSERT_MANY.format(first, first + 1, first + 2, guard=GUARD),
        (kind, [r[0] for r in rows], [jsonb(r[1]) for r in rows]),
    )


async def get(
    conn: asyncpg.Connection, kind: str, rid: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any] | None:
    found: dict[str, Any] | None = await conn.fetchval(
        _GET_FOR_UPDATE if for_update else _GET, kind, rid
    )
    return found


async def get_versioned(
    conn: asyncpg.Connection, kind: str, rid: uuid.UUID, *, for_update: bool = False
) -> tuple[dict[str, Any], int] | None:
    """The resource and its version, for :func:`update` with ``version``."""
    row = await conn.fetchrow(
        _GET_VERSIONED_FOR_UPDATE if for_update else _GET_VERSIONED, kind, rid
    )
    return None if row is None else (row["resource"], row["version"])


async def update(
    conn: asyncpg.Connection,
    kind: str,
    rid: uuid.UUID,
    resource: dict[str, Any],
    events: list[Event] | None = None,
    writes: list[Write] | None = None,
    *,
    version: int | None = None,
) -> int | None:
    """Replace a resource with its ``events`` and ``writes`` (one statement); the number of
    deliveries queued. With ``version`` only if the resource is still at that version
    (compare and set): ``None``, and nothing written, when it has changed since."""
    main, args = _UPDATE, [kind, rid, jsonb(resource)]
    if version is not None:
        main, args = _UPDATE_IF, [*args, str(version)]
    written, queued = await _write(conn, main, args, events or [], writes or [])
    return queued if written else None


async def delete(
    conn: asyncpg.Connection,
    kind: str,
    rid: uuid.UUID,
    version: int,
    events: list[Event],
    writes: list[Write],
) -> int | None:
    """Delete a resource still at ``version`` with its ``events`` and ``writes`` (one
    statement); the deliveries queued, or ``None`` when it changed (or went) since."""
    written, queued = await _write(conn, _DELETE_IF, [kind, rid, str(version)], events, writes)
    return queued if written else None


async def page(
    conn: asyncpg.Connection,
    kind: str,
    statuses: list[str] | None,
    term: str | None,
    predicate: str | None,
    offset: int,
    limit: int,
    *,
    counted: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """A page in creation order and the number of all matches. ``term`` is a reference
    term (``category.id=cat-4``, see migration 0003) answered from its index; ``counted``:
    the kind's counts are kept in ``tmf_count`` (the kinds with reference terms)."""
    shape = "" if statuses is None else "one" if len(statuses) == 1 else "many"
    key = (shape, term is not None, predicate is not None, counted)
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
