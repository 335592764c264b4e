"""SQL for entities: bound statements on the unit of work's connection.

Attribute names and types are stored expanded (IRIs). ``attrs`` maps each attribute IRI to
one instance, or to an array of instances for a multi-attribute.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg

from context_broker.entities.indexed import SENTINEL, Keyed
from context_broker.ngsild.attributes import fill_stamps
from context_broker.ngsild.geo import LOCATION, geo_box_of
from context_broker.ngsild.selectors import AnyOf, Atom, Selector
from mims_shared.db import jsonb
from mims_shared.errors import BadRequestData

#: The columns :func:`entity_of` reads.
COLUMNS = "id, types, attrs, scopes, created_at, modified_at, stamped"
# geo_box: the index box of the default location (ngsild/geo.py geo_box_of), on every write.
# stamped: the stamps of the instances that have none of their own (StoredEntity.stamped).
_INSERT = (
    "INSERT INTO entity (tenant, id, types, attrs, scopes, created_at, modified_at, geo_box, "
    "stamped) VALUES ($1, $2, $3, $4, $5, $6, $6, $7::text::box, $8) "
    "ON CONFLICT (tenant, id) DO NOTHING RETURNING 1"
)
_GET = f"SELECT {COLUMNS} FROM entity WHERE tenant = $1 AND id = $2"  # noqa: S608 - constant
_GET_FOR_UPDATE = _GET + " FOR UPDATE"
_SAVE = (
    "UPDATE entity SET types = $3, attrs = $4, scopes = $5, modified_at = $6, "
    "geo_box = $7::text::box, stamped = $8 WHERE tenant = $1 AND id = $2"
)
_DELETE = "DELETE FROM entity WHERE tenant = $1 AND id = $2 RETURNING 1"
# Optimistic read-modify-write: the row's version (xmin changes with every update) is read
# with it, and the update only applies if it is still the same.
_GET_VERSIONED = f"SELECT {COLUMNS}, xmin FROM entity WHERE tenant = $1 AND id = $2"  # noqa: S608
_GET_VERSIONED_FOR_UPDATE = _GET_VERSIONED + " FOR UPDATE"
_SAVE_IF = _SAVE + " AND xmin = $9 RETURNING 1"
# The same, recording the history of the update in the statement (ngsild/history.py
# ``told``: the rows, $10), and telling the history trigger so (migrations/0012: the setting
# is made before the statement ends, when the trigger runs): it records nothing more. The
# key of the entity's history is read once, or made (or its history entity put right) when
# it has none that matches; nothing is recorded when the update changed no row or the
# transaction records no history (``mims.history`` off, as the temporal API's do).
_SAVE_IF_RECORDED = """
WITH u AS (
    UPDATE entity SET types = $3, attrs = $4, scopes = $5, modified_at = $6,
                      geo_box = $7::text::box, stamped = $8
    WHERE tenant = $1 AND id = $2 AND xmin = $9 RETURNING 1
), k AS (
    SELECT coalesce(
               (SELECT t.key FROM temporal_entity t
                WHERE t.tenant = $1 AND t.id = $2 AND t.types = $3
                  AND t.scopes IS NOT DISTINCT FROM $5 AND t.deleted_at IS NULL),
               history_entity_key($1, $2, $6)) AS key
    WHERE EXISTS (SELECT FROM u) AND history_is_off() IS NOT TRUE
), h AS (
    INSERT INTO attr_instance (entity_key, attr, dataset_id, at, observed_at, created_at,
                               modified_at, deleted_at, num, inst)
    SELECT k.key, c.attr, c.ds, coalesce(c.observed, $6), c.observed, $6, $6,
           CASE WHEN c.gone THEN $6 END, c.num,
           CASE WHEN c.gone THEN history_deletion(c.inst, $6) ELSE c.inst END
    FROM k CROSS JOIN jsonb_to_recordset($10::jsonb)
        AS c(attr text, ds text, observed timestamptz, num float8, gone boolean, inst jsonb)
)
SELECT count(*), set_config('mims.history_changes', 'recorded', true) FROM u
"""


@dataclass(slots=True)
class StoredEntity:
    """An entity as stored. ``stamped``: the createdAt and modifiedAt of every instance of
    ``attrs`` that has none of its own (an entity built by a whole write leaves them out:
    migrations/0014_implicit_stamps.sql); None when every instance has its own, as every
    entity read from the database has (:func:`entity_of`)."""

    id: str
    types: list[str]
    attrs: dict[str, Any]
    scopes: list[str] | None
    created_at: Any
    modified_at: Any
    stamped: str | None = None


def entity_of(row: asyncpg.Record) -> StoredEntity:
    """The entity of a row selected with ``COLUMNS``, every instance's stamps in place (the
    row's ``stamped`` filled in where an instance has none of its own)."""
    return StoredEntity(
        row["id"],
        list(row["types"]),
        fill_stamps(row["attrs"], row["stamped"]),
        row["scopes"],
        row["created_at"],
        row["modified_at"],
    )


async def insert(conn: asyncpg.Connection, tenant: str, e: StoredEntity) -> bool:
    """True when created, False when an entity with this id exists in the tenant."""
    done = await conn.fetchval(
        _INSERT,
        tenant,
        e.id,
        e.types,
        jsonb(e.attrs),
        e.scopes,
        e.created_at,
        geo_box_of(e.attrs),
        e.stamped,
    )
    return done is not None


async def get(
    conn: asyncpg.Connection, tenant: str, eid: str, *, for_update: bool = False
) -> StoredEntity | None:
    row = await conn.fetchrow(_GET_FOR_UPDATE if for_update else _GET, tenant, eid)
    return None if row is None else entity_of(row)


async def save(conn: asyncpg.Connection, tenant: str, e: StoredEntity) -> None:
    await conn.execute(_SAVE, *_saved(tenant, e))


def _saved(tenant: str, e: StoredEntity) -> list[Any]:
    """The parameters $1-$8 of an update of ``e``."""
    attrs = e.attrs
    return [
        tenant,
        e.id,
        e.types,
        jsonb(attrs),
        e.scopes,
        e.modified_at,
        geo_box_of(attrs),
        e.stamped,
    ]


async def get_versioned(
    conn: asyncpg.Connection, tenant: str, eid: str, *, for_update: bool = False
) -> tuple[StoredEntity, int] | None:
    """The entity and its row version, for :func:`save_if`."""
    row = await conn.fetchrow(
        _GET_VERSIONED_FOR_UPDATE if for_update else _GET_VERSIONED, tenant, eid
    )
    return None if row is None else (entity_of(row), row["xmin"])


async def save_if(
    conn: asyncpg.Connection,
    tenant: str,
    e: StoredEntity,
    version: int,
    history: str | None = None,
) -> bool:
    """Save ``e`` if its row is still at ``version``; False when another write came first.
    ``history``: the history rows of the update (ngsild/history.py ``told``), recorded with
    it; without, the history trigger finds them."""
    args = _saved(tenant, e)
    if history is None:
        return await conn.fetchval(_SAVE_IF, *args, version) is not None
    return bool(await conn.fetchval(_SAVE_IF_RECORDED, *args, version, history))


async def delete(conn: asyncpg.Connection, tenant: str, eid: str) -> bool:
    return await conn.fetchval(_DELETE, tenant, eid) is not None


# The attributes with every stamp in place (migrations/0014_implicit_stamps.sql).
_STAMPED_ATTRS = "entity_attrs_stamped(attrs, stamped)"


@dataclass(slots=True)
class Filter:
    """The indexed filters of Query Entities, as bound parameters."""

    tenant: str
    ids: list[str] | None = None
    id_pattern: str | None = None
    types: list[str] | None = None
    any_attrs: list[str] | None = None
    q_path: str | None = None
    type_selector: Selector | None = None  # atoms are type IRIs
    scope_selector: Selector | None = None  # atoms are scope patterns
    #: The reader's visible type names (ngsild/visibility.py); None: no limit.
    visible: frozenset[str] | None = None
    #: An equality term of ``q`` on a declared attribute (entities/indexed.py).
    keyed: KeyedFilter | None = None
    #: ``q`` reads instances' createdAt or modifiedAt (ngsild/query.py reads_stamps): it is
    #: tested on the attributes with every stamp in place, not on the stored document.
    q_stamps: bool = False

    @property
    def q_doc(self) -> str:
        """What ``q`` is tested on (SQL; constant)."""
        return _STAMPED_ATTRS if self.q_stamps else "attrs"


@dataclass(frozen=True, slots=True)
class KeyedFilter:
    """``q`` is ``attr==values`` (on the declared attribute ``attr``) AND ``rest_path``
    (None: nothing more); ``values`` are JSON texts, distinct as jsonb."""

    attr: Keyed
    values: tuple[str, ...]
    rest_path: str | None


def _selector_sql(sel: Selector, atom: Callable[[str], str]) -> str:
    """A boolean selector as SQL; atoms become bound parameters through ``atom``."""
    if isinstance(sel, Atom):
        return atom(sel.text)
    joiner = " OR " if isinstance(sel, AnyOf) else " AND "
    return "(" + joiner.join(_selector_sql(s, atom) for s in sel.items) + ")"


def _scope_sql(pattern: str, arg: Callable[[Any], str]) -> str:
    """One scope pattern (4.19): ``/#`` any scope, ``/a/#`` a or below, ``/a/+`` one below."""
    if pattern == "/#":
        return "cardinality(scopes) > 0"
    if "+" in pattern[:-1]:
        # A + inside the path: one level, any name (4.19); as an anchored regular expression.
        parts = pattern.split("/")
        tail = "(/.*)?$" if parts[-1] == "#" else "$"
        if parts[-1] == "#":
            parts = parts[:-1]
        regex = "^" + "/".join("[^/]+" if p == "+" else re.escape(p) for p in parts) + tail
        return f"EXISTS (SELECT 1 FROM unnest(scopes) s WHERE s ~ {arg(regex)})"  # noqa: S608
    if pattern.endswith("/#"):
        base = pattern[:-2]
        return (
            f"EXISTS (SELECT 1 FROM unnest(scopes) s WHERE s = {arg(base)} "  # noqa: S608 - bound values only
            f"OR starts_with(s, {arg(base + '/')}))"
        )
    if pattern.endswith("/+"):
        base = pattern[:-1]
        return (
            f"EXISTS (SELECT 1 FROM unnest(scopes) s WHERE starts_with(s, {arg(base)}) "  # noqa: S608 - bound values only
            f"AND position('/' in substr(s, {arg(len(base) + 1)}::int)) = 0 "
            f"AND length(s) > {arg(len(base))}::int)"
        )
    # Containment, not ``= ANY``: the GIN index on scopes (migration 0002) serves it.
    return f"scopes @> ARRAY[{arg(pattern)}::text]"


def _where(f: Filter) -> tuple[str, list[Any]]:
    clauses = ["tenant = $1"]
    args: list[Any] = [f.tenant]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.ids:
        clauses.append(f"id = ANY({arg(f.ids)}::text[])")
    if f.id_pattern:
        clauses.append(f"id ~ {arg(f.id_pattern)}")
    if f.types:
        clauses.append(f"types && {arg(f.types)}::text[]")
    if f.type_selector is not None:
        clauses.append(_selector_sql(f.type_selector, lambda t: f"types @> {arg([t])}::text[]"))
    if f.scope_selector is not None:
        clauses.append(_selector_sql(f.scope_selector, lambda s: _scope_sql(s, arg)))
    if f.visible is not None:
        names = arg(sorted(f.visible))
        clauses.append(
            f"EXISTS (SELECT 1 FROM unnest(types) t WHERE type_name(t) = ANY({names}::text[]))"  # noqa: S608 - bound values only
        )
    if f.any_attrs:
        clauses.append(f"attrs ?| {arg(f.any_attrs)}::text[]")
    if f.q_path:
        clauses.append(f"{f.q_doc} @? {arg(f.q_path)}::jsonpath")
    return " AND ".join(clauses), args


#: How many candidates (in id order, before ``q``) the ordered scan looks at, at least; it
#: looks at 8 per row up to the end of the page when that is more.
ORDERED_SCAN_BUDGET = 2000
#: Pages ending further than this go to the plain plan directly.
MAX_ORDERED_PAGE_END = 10_000


async def _ordered_scan(
    conn: asyncpg.Connection, f: Filter, offset: int, limit: int
) -> list[asyncpg.Record] | None:
    """The page of a query with ``q``, found by walking the candidates of the other filters
    in id order and testing ``q`` on each, if the first ``ORDERED_SCAN_BUDGET`` candidates
    are enough to decide it; None when they are not.

    PostgreSQL cannot estimate how selective a jsonpath is, so for ``q`` it reads every
    match through the GIN index and sorts them all, even for a page of 20: a query that
    matches a quarter of 100,000 entities sorts 25,000 rows. Matches in id order among the
    first N candidates are the first matches overall, so when the budget yields the page
    (or there are fewer candidates than the budget) the page is exact; otherwise the plain
    query runs.

    With one type, the entities that have it alone are walked in id order (index (tenant,
    types, id), migration 0011), not along the whole tenant, merged with those that have it
    among others (:func:`_several_types`).
    """
    assert f.q_path is not None
    if f.types is not None and len(f.types) == 1:
        base, args = _where(replace(f, q_path=None, types=None, keyed=None))
        typ = f"${len(args) + 1}"
        args.append(f.types)
        wheres = [f"{base} AND types = {typ}::text[]", _several_types(base, typ)]
    else:
        where, args = _where(replace(f, q_path=None))
        wheres = [where]
    n = len(args)

    def walk(budget: str) -> str:
        """The first ``budget`` candidates in id order: each branch and their merge keep
        id order (constant fragments only, see _where; every value is bound)."""
        branches = [
            f"(SELECT {COLUMNS} FROM entity WHERE {w} ORDER BY id LIMIT {budget})"  # noqa: S608
            for w in wheres
        ]
        if len(branches) == 1:
            return branches[0]
        merged = " UNION ALL ".join(branches)
        return f"(SELECT * FROM ({merged}) b ORDER BY id LIMIT {budget})"  # noqa: S608

    # The outer filter stops at the page's last match.
    sql = (
        f"SELECT {COLUMNS} FROM {walk(f'${n + 2}')} c WHERE {f.q_doc} @? ${n + 1}::jsonpath "  # noqa: S608
        f"ORDER BY id OFFSET ${n + 3} LIMIT ${n + 4}"
    )
    count = max(ORDERED_SCAN_BUDGET, 8 * (offset + limit))
    rows = await conn.fetch(sql, *args, f.q_path, count, offset, limit)
    if len(rows) == limit:
        return list(rows)
    # Fewer than a page: exact only if the budget saw every candidate.
    head = await conn.fetchval(
        f"SELECT count(*) FROM {walk(f'${n + 1}')} c",  # noqa: S608
        *args,
        count,
    )
    return list(rows) if int(head) < count else None


def _several_types(base: str, typ: str) -> str:
    """The entities (filtered by ``base``) that have the type ``typ`` among others: read
    only when there is one, by a one-time probe of the small partial index of migration
    0011 (whose statistics migration 0013 keeps), so that the planner's guess of this
    branch never costs a scan of every entity of the type."""
    probe = (
        "EXISTS (SELECT 1 FROM entity x WHERE x.tenant = $1 AND cardinality(x.types) > 1 "  # noqa: S608
        f"AND x.types @> {typ}::text[])"
    )
    return f"{base} AND types @> {typ}::text[] AND cardinality(types) > 1 AND {probe}"


def _keyed_branches(f: Filter, end: int | None) -> tuple[list[str], list[Any]]:
    """The matches of a keyed query (entities/indexed.py) of one type, as SELECTs of
    ``COLUMNS`` in id order, disjoint: among the entities of that type alone, one per
    index range: per value, ``key = value`` and the rest of ``q``; for the sentinel,
    ``key = []`` and the whole ``q``; and the (few) entities with that type among others
    (partial index of migration 0011), tested with the whole ``q``. ``end``: each stops
    after so many rows (None: for a count, they then select nothing)."""
    k = f.keyed
    assert k is not None and f.q_path is not None and f.types is not None
    base, args = _where(replace(f, q_path=None, types=None, keyed=None))

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    typ = arg(f.types)
    q = arg(f.q_path)
    # The index's predicate too, so that the planner may use it (true of every match).
    alone = f"{base} AND types = {typ}::text[] AND {k.attr.present}"
    rest = f" AND {f.q_doc} @? {arg(k.rest_path)}::jsonpath" if k.rest_path else ""
    tail = "" if end is None else f" ORDER BY id LIMIT {arg(end)}"
    cols = "1" if end is None else COLUMNS
    # Constant fragments only: the key is built from the configured IRI (a quoted literal,
    # entities/indexed.py), every value of the request is bound.
    wheres = [f"{alone} AND {k.attr.key} = {arg(v)}::jsonb{rest}" for v in k.values]
    wheres.append(f"{alone} AND {k.attr.key} = {SENTINEL} AND {f.q_doc} @? {q}::jsonpath")
    wheres.append(f"{_several_types(base, typ)} AND {f.q_doc} @? {q}::jsonpath")
    selects = [f"(SELECT {cols} FROM entity WHERE {w}{tail})" for w in wheres]  # noqa: S608
    return selects, args


def keyed_page_sql(f: Filter, offset: int, limit: int) -> tuple[str, list[Any]]:
    """The statement of the page of a keyed query: the index ranges merged in id order (a
    Merge Append that stops at the page's end)."""
    selects, args = _keyed_branches(f, offset + limit)
    n = len(args)
    sql = (
        f"SELECT {COLUMNS} FROM ({' UNION ALL '.join(selects)}) m "  # noqa: S608
        f"ORDER BY id OFFSET ${n + 1} LIMIT ${n + 2}"
    )
    return sql, [*args, offset, limit]


async def _keyed_page(
    conn: asyncpg.Connection, f: Filter, offset: int, limit: int
) -> list[asyncpg.Record]:
    sql, args = keyed_page_sql(f, offset, limit)
    return list(await conn.fetch(sql, *args))


async def _keyed_count(conn: asyncpg.Connection, f: Filter) -> int:
    """How many entities a keyed query matches: the ranges are disjoint."""
    selects, args = _keyed_branches(f, None)
    sql = f"SELECT count(*) FROM ({' UNION ALL '.join(selects)}) m"  # noqa: S608
    return int(await conn.fetchval(sql, *args))


async def query(
    conn: asyncpg.Connection, f: Filter, offset: int, limit: int, count: bool
) -> tuple[list[StoredEntity], int | None]:
    where, args = _where(f)
    total: int | None = None
    rows: list[asyncpg.Record] = []
    try:
        one_type = f.types is not None and len(f.types) == 1
        if f.keyed is not None and f.q_path is not None and one_type:
            rows = await _keyed_page(conn, f, offset, limit) if limit > 0 else []
            total = await _keyed_count(conn, f) if count else None
            return [entity_of(r) for r in rows], total
        ordered = None
        if limit > 0 and f.q_path is not None and offset + limit <= MAX_ORDERED_PAGE_END:
            ordered = await _ordered_scan(conn, f, offset, limit)
        if ordered is not None:
            rows = ordered
        elif limit > 0:
            n = len(args)
            # Built from constant fragments only (see _where); every value is bound.
            sql = (
                f"SELECT {COLUMNS} FROM entity WHERE {where} ORDER BY id "  # noqa: S608
                f"OFFSET ${n + 1} LIMIT ${n + 2}"
            )
            rows = await conn.fetch(sql, *args, offset, limit)
        if count:
            sql = f"SELECT count(*) FROM entity WHERE {where}"  # noqa: S608 - as above
            total = int(await conn.fetchval(sql, *args))
    except asyncpg.InvalidRegularExpressionError as exc:
        raise BadRequestData(f"A regular expression of the query is not valid: {exc}") from None
    return [entity_of(r) for r in rows], total


async def query_geo(
    conn: asyncpg.Connection,
    f: Filter,
    geoproperty: str,
    box: str | None,
    keep: Callable[[Any], bool],
    offset: int,
    limit: int,
    count: bool,
) -> tuple[list[StoredEntity], int | None]:
    """Query Entities with a geo-query (4.10), on a connection in a transaction.

    The candidates are those of the other filters, and, with ``box``, whose ``geo_box``
    overlaps it (GiST); only their id and geoproperty are read, in id order. ``keep`` decides
    exactly on each; the count and the page are taken from what it kept, then the page's
    entities are read whole. Both reads see one snapshot (repeatable read).
    """
    where, args = _where(f)
    n = len(args)
    # Built from constant fragments only (see _where); every value is bound.
    if box is not None:
        where += f" AND geo_box && ${n + 2}::text::box"
        extra: list[Any] = [geoproperty, box]
    else:
        where += f" AND attrs ? ${n + 1}"
        extra = [geoproperty]
    await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    sql = f"SELECT id, attrs -> ${n + 1} AS g FROM entity WHERE {where} ORDER BY id"  # noqa: S608
    try:
        candidates = await conn.fetch(sql, *args, *extra)
    except asyncpg.InvalidRegularExpressionError as exc:
        raise BadRequestData(f"A regular expression of the query is not valid: {exc}") from None
    kept = [r["id"] for r in candidates if keep(r["g"])]
    page = kept[offset : offset + limit] if limit > 0 else []
    rows = []
    if page:
        sql = f"SELECT {COLUMNS} FROM entity WHERE tenant = $1 AND id = ANY($2::text[]) ORDER BY id"  # noqa: S608
        rows = await conn.fetch(sql, f.tenant, page)
    return [entity_of(r) for r in rows], len(kept) if count else None


async def purge(
    conn: asyncpg.Connection, f: Filter, *, keep: list[str] | None, drop: list[str] | None
) -> int:
    """Delete the matching entities, or only their attributes (``drop``), or all but some
    (``keep``); the number of entities touched."""
    try:
        return await _purge(conn, f, keep=keep, drop=drop)
    except asyncpg.InvalidRegularExpressionError as exc:
        raise BadRequestData(f"A regular expression of the query is not valid: {exc}") from None


async def _purge(
    conn: asyncpg.Connection, f: Filter, *, keep: list[str] | None, drop: list[str] | None
) -> int:
    where, args = _where(f)
    n = len(args)
    # Built from constant fragments only (see _where); every value is bound.
    if drop:
        sql = (
            f"UPDATE entity SET attrs = attrs - ${n + 1}::text[], modified_at = now(), "  # noqa: S608
            f"geo_box = CASE WHEN ${n + 2} = ANY(${n + 1}::text[]) THEN NULL ELSE geo_box END "
            f"WHERE {where}"
        )
        status = await conn.execute(sql, *args, drop, LOCATION)
    elif keep:
        sql = (
            "UPDATE entity SET modified_at = now(), attrs = (SELECT coalesce("  # noqa: S608
            f"jsonb_object_agg(k, v), '{{}}'::jsonb) FROM jsonb_each(attrs) AS a(k, v) "
            f"WHERE k = ANY(${n + 1}::text[])), "
            f"geo_box = CASE WHEN ${n + 2} = ANY(${n + 1}::text[]) THEN geo_box END WHERE {where}"
        )
        status = await conn.execute(sql, *args, keep, LOCATION)
    else:
        status = await conn.execute(f"DELETE FROM entity WHERE {where}", *args)  # noqa: S608
    return int(status.rsplit(" ", 1)[-1])
