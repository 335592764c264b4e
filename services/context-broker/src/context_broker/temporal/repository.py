"""SQL for the history (migrations/0006_history.sql, 0010_history_keys.sql,
0012_history_snapshots.sql): bound statements only.

``attr_instance`` holds one row per attribute instance, partitioned by ``at``, under the key
of its entity (``temporal_entity.key``), and one *snapshot* row per created entity (all its
attributes at creation, ``attr = ''``). Reads select from the view ``history_instance``,
which unfolds snapshots into the instances they hold; before a change to recorded instances
of an entity its snapshots become ordinary rows (``_unfold``), so that changes apply to rows
only. The column a temporal query compares (``at``, ``created_at``, ``modified_at``,
``deleted_at``) comes from the fixed map ``TIME_PROPERTIES`` of ngsild/temporal.py, never
from the request's text. An instance is stored without its createdAt and modifiedAt (the
columns hold them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from context_broker.ngsild.history import unstamped
from context_broker.ngsild.temporal import TIME_PROPERTIES, Duration, TemporalQuery

_COLUMNS = frozenset(TIME_PROPERTIES.values())


@dataclass(slots=True)
class TemporalEntityRow:
    key: int  # what attr_instance refers to
    id: str
    types: list[str]
    scopes: list[str] | None
    created_at: datetime
    modified_at: datetime
    deleted_at: datetime | None


@dataclass(slots=True)
class InstanceRow:
    """An instance to record: the attribute IRI and the instance as stored (expanded)."""

    attr: str
    inst: dict[str, Any]
    at: datetime
    observed_at: datetime | None
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InstanceRef:
    """Which stored instance an instanceId names: a number (``iid``) and, for an instance
    recorded in a snapshot, its place in it (``sub``); or the uuid of an instance recorded
    before migration 0010 (``legacy_id``)."""

    number: int | None = None
    sub: int | None = None
    legacy: str | None = None

    def clause(self, first: int) -> str:
        """The condition on a row, with the two values of ``values`` at $first, $first+1."""
        a, b = f"${first}", f"${first + 1}"
        if self.number is not None:
            return f"iid = {a}::bigint AND sub IS NOT DISTINCT FROM {b}::int AND legacy_id IS NULL"
        return f"legacy_id = {a}::uuid AND {b}::int IS NULL"

    @property
    def values(self) -> tuple[int | str | None, int | None]:
        return (self.number if self.number is not None else self.legacy), self.sub


#: The instanceId of a row (after urn:ngsi-ld:Instance:), as text.
_IID = (
    "CASE WHEN legacy_id IS NOT NULL THEN legacy_id::text WHEN sub IS NULL THEN iid::text "
    "ELSE iid::text || '-' || sub::text END"
)


async def history_off(conn: asyncpg.Connection) -> None:
    """The history triggers skip this transaction: the temporal API records its own."""
    await conn.execute("SELECT set_config('mims.history', 'off', true)")


async def recording(conn: asyncpg.Connection) -> bool:
    """Whether updates of entities are recorded: the trigger is enabled (an operator may
    disable the history triggers; the bench does, to compare)."""
    enabled = await conn.fetchval(
        "SELECT tgenabled <> 'D' FROM pg_trigger "
        "WHERE tgrelid = 'entity'::regclass AND tgname = 'entity_history_update'"
    )
    return bool(enabled)


async def add_partitions(conn: asyncpg.Connection, months_ahead: int) -> int:
    """Monthly partitions of the history from this month to ``months_ahead`` later."""
    return int(await conn.fetchval("SELECT history_add_partitions($1)", months_ahead))


def _entity(row: asyncpg.Record) -> TemporalEntityRow:
    return TemporalEntityRow(
        row["key"],
        row["id"],
        list(row["types"]),
        row["scopes"],
        row["created_at"],
        row["modified_at"],
        row["deleted_at"],
    )


async def get_entity(
    conn: asyncpg.Connection, tenant: str, eid: str, *, for_update: bool = False
) -> TemporalEntityRow | None:
    sql = (
        "SELECT key, id, types, scopes, created_at, modified_at, deleted_at "
        "FROM temporal_entity "
        "WHERE tenant = $1 AND id = $2"
    )
    row = await conn.fetchrow(sql + (" FOR UPDATE" if for_update else ""), tenant, eid)
    return None if row is None else _entity(row)


async def get_entities(
    conn: asyncpg.Connection, tenant: str, ids: list[str]
) -> dict[str, TemporalEntityRow]:
    rows = await conn.fetch(
        "SELECT key, id, types, scopes, created_at, modified_at, deleted_at "
        "FROM temporal_entity "
        "WHERE tenant = $1 AND id = ANY($2::text[])",
        tenant,
        ids,
    )
    return {r["id"]: _entity(r) for r in rows}


async def save_entity(
    conn: asyncpg.Connection,
    tenant: str,
    eid: str,
    types: list[str],
    scopes: list[str] | None,
    now: datetime,
) -> int:
    """Create or update the entity of the history; its key."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO temporal_entity (tenant, id, types, scopes, created_at, modified_at) "
        "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant, id) DO UPDATE SET "
        "types = EXCLUDED.types, scopes = EXCLUDED.scopes, modified_at = EXCLUDED.modified_at, "
        "deleted_at = NULL RETURNING key",
        tenant,
        eid,
        types,
        scopes,
        now,
    )


async def insert_instances(
    conn: asyncpg.Connection, key: int, rows: list[InstanceRow], now: datetime
) -> None:
    """Record instances (two statements whatever their number). An instance observed at
    the same time as one recorded (same attribute and datasetId) replaces it."""
    if not rows:
        return
    observed = [r for r in rows if r.observed_at is not None]
    if observed:
        await _unfold(conn, key)
        await conn.execute(
            """
            DELETE FROM attr_instance a
            USING unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(attr, ds, observed_at)
            WHERE a.entity_key = $1 AND a.attr = u.attr
              AND a.dataset_id IS NOT DISTINCT FROM u.ds AND a.at = u.observed_at
              AND a.observed_at = u.observed_at
            """,
            key,
            [r.attr for r in observed],
            [r.inst.get("datasetId") for r in observed],
            [r.observed_at for r in observed],
        )
    await conn.execute(
        """
        INSERT INTO attr_instance (entity_key, attr, dataset_id, at, observed_at,
                                   created_at, modified_at, deleted_at, num, inst)
        SELECT $1, r.attr, r.inst ->> 'datasetId', r.at, r.observed_at, $2, $2,
               r.deleted_at,
               CASE WHEN jsonb_typeof(r.inst -> 'value') = 'number'
                    THEN (r.inst ->> 'value')::float8 END,
               r.inst
        FROM unnest($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                    $7::timestamptz[]) AS u(attr, inst_text, at, observed_at, deleted_at)
        CROSS JOIN LATERAL (SELECT u.attr, u.inst_text::jsonb AS inst, u.at, u.observed_at,
                                   u.deleted_at) AS r
        """,
        key,
        now,
        [r.attr for r in rows],
        [orjson.dumps(unstamped(r.inst)).decode() for r in rows],
        [r.at for r in rows],
        [r.observed_at for r in rows],
        [r.deleted_at for r in rows],
    )


async def _unfold(conn: asyncpg.Connection, key: int) -> None:
    """The entity's snapshots become ordinary rows, with the instanceIds they had: what
    changes or deletes recorded instances then applies to rows alone."""
    await conn.execute("SELECT history_unfold_into_rows(ARRAY[$1::bigint])", key)


async def delete_entity(conn: asyncpg.Connection, tenant: str, eid: str) -> bool:
    """Forget the whole history of an entity; False when there was none."""
    key = await conn.fetchval(
        "DELETE FROM temporal_entity WHERE tenant = $1 AND id = $2 RETURNING key", tenant, eid
    )
    if key is None:
        return False
    await conn.execute("DELETE FROM attr_instance WHERE entity_key = $1", key)
    return True


async def delete_attribute(
    conn: asyncpg.Connection,
    key: int,
    attr: str,
    dataset_id: str | None,
    delete_all: bool,
) -> int:
    """Forget the instances of an attribute (of one datasetId, or all); how many."""
    await _unfold(conn, key)
    if delete_all:
        status = await conn.execute(
            "DELETE FROM attr_instance WHERE entity_key = $1 AND attr = $2", key, attr
        )
    else:
        status = await conn.execute(
            "DELETE FROM attr_instance WHERE entity_key = $1 AND attr = $2 "
            "AND dataset_id IS NOT DISTINCT FROM $3",
            key,
            attr,
            dataset_id,
        )
    return int(status.rsplit(" ", 1)[-1])


async def get_instance(
    conn: asyncpg.Connection, key: int, attr: str, ref: InstanceRef
) -> tuple[dict[str, Any], datetime] | None:
    """The stored instance and its createdAt (locked: the transaction may change it)."""
    await _unfold(conn, key)
    row = await conn.fetchrow(
        "SELECT inst, created_at FROM attr_instance WHERE entity_key = $1 AND attr = $2 "  # noqa: S608
        f"AND {ref.clause(3)} FOR UPDATE",
        key,
        attr,
        *ref.values,
    )
    return None if row is None else (dict(row["inst"]), row["created_at"])


async def replace_instance(
    conn: asyncpg.Connection,
    key: int,
    attr: str,
    ref: InstanceRef,
    inst: dict[str, Any],
    observed_at: datetime | None,
    now: datetime,
) -> None:
    """Correct one instance (5.6.14): its members and times; it keeps its instanceId. The
    row moves to another partition when its time changes (PostgreSQL does that). The
    instance was read with ``get_instance`` in this transaction (snapshots unfolded)."""
    await conn.execute(
        "UPDATE attr_instance SET inst = $5::text::jsonb, observed_at = $6, "  # noqa: S608
        "at = coalesce($6, at), modified_at = $7, dataset_id = $5::text::jsonb ->> 'datasetId', "
        "num = CASE WHEN jsonb_typeof($5::text::jsonb -> 'value') = 'number' "
        "THEN ($5::text::jsonb ->> 'value')::float8 END "
        f"WHERE entity_key = $1 AND attr = $2 AND {ref.clause(3)}",
        key,
        attr,
        *ref.values,
        orjson.dumps(unstamped(inst)).decode(),
        observed_at,
        now,
    )


async def delete_instance(
    conn: asyncpg.Connection, tenant: str, eid: str, attr: str, ref: InstanceRef
) -> bool:
    key = await conn.fetchval(
        "SELECT key FROM temporal_entity WHERE tenant = $1 AND id = $2", tenant, eid
    )
    if key is None:
        return False
    await _unfold(conn, key)
    done = await conn.fetchval(
        "DELETE FROM attr_instance WHERE entity_key = $1 AND attr = $2 "  # noqa: S608
        f"AND {ref.clause(3)} RETURNING 1",
        key,
        attr,
        *ref.values,
    )
    return done is not None


@dataclass(frozen=True, slots=True)
class Selection:
    """Which instances a temporal read wants: entities, attributes, datasetIds, time."""

    #: The entities' keys and ids (temporal_entity), in the order wanted.
    entities: dict[int, str]
    attrs: list[str] | None
    #: datasetIds to keep (None: the default instance); None: all.
    dataset_ids: frozenset[str | None] | None
    query: TemporalQuery


def _where(sel: Selection) -> tuple[str, list[Any], str]:
    """The WHERE clause of a selection (constant fragments, every value bound), its
    arguments and the time column."""
    column = sel.query.column
    if column not in _COLUMNS:  # the map is fixed; this guards the f-strings below
        raise ValueError(column)
    args: list[Any] = [list(sel.entities)]
    clauses = ["entity_key = ANY($1::bigint[])"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if sel.attrs is not None:
        clauses.append(f"attr = ANY({arg(sel.attrs)}::text[])")
    if sel.dataset_ids is not None:
        named = [d for d in sel.dataset_ids if d is not None]
        clauses.append(
            f"(dataset_id = ANY({arg(named)}::text[]) "
            f"OR (dataset_id IS NULL AND {arg(None in sel.dataset_ids)}::bool))"
        )
    if column != "at":
        clauses.append(f"{column} IS NOT NULL")
    q = sel.query
    if q.timerel == "after":
        clauses.append(f"{column} >= {arg(q.time_at)}")
    elif q.timerel == "before":
        clauses.append(f"{column} < {arg(q.time_at)}")
    elif q.timerel == "between":
        clauses.append(f"{column} >= {arg(q.time_at)} AND {column} < {arg(q.end_time_at)}")
    return " AND ".join(clauses), args, column


@dataclass(slots=True)
class StoredInstance:
    entity_id: str
    attr: str
    instance_id: str
    moment: datetime  # the value of the query's time property
    created_at: datetime
    modified_at: datetime
    deleted_at: datetime | None
    inst: dict[str, Any]


#: The attributes of each entity that have ordinary history rows: one index probe per
#: attribute (a loose index scan: PostgreSQL has no skip scan); its snapshots (attr '', first
#: in the index's bytewise order) are passed over.
_SERIES = """
WITH RECURSIVE pairs(e, a) AS (
    SELECT e, (SELECT attr FROM attr_instance
               WHERE entity_key = e ORDER BY attr LIMIT 1)
    FROM unnest($1::bigint[]) AS e
    UNION ALL
    SELECT e, (SELECT attr FROM attr_instance
               WHERE entity_key = e AND attr > a ORDER BY attr LIMIT 1)
    FROM pairs WHERE a IS NOT NULL
)
SELECT e, a FROM pairs WHERE a <> ''
"""


async def _pairs(conn: asyncpg.Connection, sel: Selection) -> list[tuple[int, str]]:
    """(entity key, attribute) of the selection to probe for ordinary rows: those asked for,
    or those with such rows (snapshots, attr ``''``, are read whole by ``_per_series``)."""
    if sel.attrs is not None:
        return [(e, a) for e in sel.entities for a in sel.attrs]
    return [(r["e"], r["a"]) for r in await conn.fetch(_SERIES, list(sel.entities))]


async def _per_series(
    conn: asyncpg.Connection,
    pairs: list[tuple[int, str]],
    selected: tuple[str, list[Any], str],
    cols: str,
    *,
    last: bool,
    count: int,
) -> list[asyncpg.Record]:
    """The first (``last``: the last) ``count`` selected instances of each (entity key,
    attribute) pair by the time column, as ``cols`` (which name ``entity_key``, ``attr`` and
    ``moment``), in (entity key, attribute, moment) order: the ordinary rows of each pair by
    an index probe, the snapshots' instances unfolded once (unfolded per pair, a snapshot
    would cost the square of its attributes), ranked together. ``pairs``: ``_pairs``;
    ``selected``: ``_where``."""
    where, args, column = selected
    n = len(args)
    way = "DESC" if last else "ASC"
    # Built from constant fragments (see _where); every value is bound.
    sql = (
        "SELECT * FROM (SELECT x.*, row_number() OVER (PARTITION BY entity_key, attr "  # noqa: S608
        f"ORDER BY moment {way}) AS r FROM ("
        f"SELECT x.* FROM unnest(${n + 1}::bigint[], ${n + 2}::text[]) AS p(e, a) "
        f"CROSS JOIN LATERAL (SELECT {cols} FROM attr_instance WHERE {where} "
        f"AND entity_key = p.e AND attr = p.a ORDER BY {column} {way} LIMIT ${n + 3}) AS x "
        f"UNION ALL SELECT {cols} FROM history_snapshot_instance WHERE {where}) x) y "
        f"WHERE r <= ${n + 3} ORDER BY entity_key, attr, moment"
    )
    rows = await conn.fetch(sql, *args, [p[0] for p in pairs], [p[1] for p in pairs], count)
    return list(rows)


async def read(
    conn: asyncpg.Connection, sel: Selection, limit: int
) -> tuple[list[StoredInstance], set[tuple[str, str]]]:
    """The selected instances in (entity, attribute, time) order, and the (entity,
    attribute) pairs that have any (also those the page leaves out).

    With lastN, the last N of each attribute of each entity: one index probe per attribute.
    Without, at most the ``limit`` earliest (and those at the same time as the last of them):
    a long history is not read whole to answer one page (6.3.10).
    """
    where, args, column = _where(sel)
    cols = (
        f"entity_key, attr, {_IID} AS iid, {column} AS moment, created_at, "
        "modified_at, deleted_at, inst"
    )
    n = len(args)
    present: set[tuple[str, str]] = set()
    # Built from constant fragments (see _where); every value is bound.
    if sel.query.last_n:
        pairs = await _pairs(conn, sel)
        rows = await _per_series(
            conn, pairs, (where, args, column), cols, last=True, count=sel.query.last_n
        )
    else:
        sql = f"SELECT {cols} FROM history_instance WHERE {where} ORDER BY moment LIMIT ${n + 1}"  # noqa: S608
        rows = await conn.fetch(sql, *args, limit + 1)
        if len(rows) > limit:
            present = await _present(conn, sel, where, args, column)
        if len(rows) > limit and rows[limit]["moment"] == rows[limit - 1]["moment"]:
            # Instances at the time of the cut are all on this page.
            cut = f"SELECT {cols} FROM history_instance WHERE {where} AND {column} <= ${n + 1}"  # noqa: S608
            rows = await conn.fetch(cut, *args, rows[limit - 1]["moment"])
        ids = sel.entities
        rows = sorted(rows, key=lambda r: (ids[r["entity_key"]], r["attr"], r["moment"]))
    found = [
        StoredInstance(
            sel.entities[r["entity_key"]],
            r["attr"],
            r["iid"],
            r["moment"],
            r["created_at"],
            r["modified_at"],
            r["deleted_at"],
            r["inst"],
        )
        for r in rows
    ]
    return found, present | {(i.entity_id, i.attr) for i in found}


async def _present(
    conn: asyncpg.Connection, sel: Selection, where: str, args: list[Any], column: str
) -> set[tuple[str, str]]:
    """The (entity, attribute) pairs with instances in the selection."""
    cols = f"entity_key, attr, {column} AS moment"
    pairs = await _pairs(conn, sel)
    rows = await _per_series(conn, pairs, (where, args, column), cols, last=False, count=1)
    return {(sel.entities[r["entity_key"]], r["attr"]) for r in rows}


@dataclass(slots=True)
class Bucket:
    entity_id: str
    attr: str
    dataset_id: str | None
    kind: str
    start: datetime
    end: datetime
    results: dict[str, Any]


_AGGREGATES = {
    "totalCount": "count(*)",
    # Numbers compared as numbers (no JSON read), other values as JSON.
    "distinctCount": "count(DISTINCT a.num) + count(DISTINCT CASE WHEN a.num IS NULL THEN "
    "coalesce(a.inst -> 'value', a.inst -> 'object', a.inst) END)",
    "sum": "sum(a.num)",
    "avg": "avg(a.num)",
    "min": "min(a.num)",
    "max": "max(a.num)",
    "stddev": "CASE WHEN count(a.num) > 0 THEN coalesce(stddev_samp(a.num), 0) END",
    "sumsq": "sum(a.num * a.num)",
}


async def aggregate(
    conn: asyncpg.Connection,
    sel: Selection,
    methods: list[str],
    period: Duration | None,
) -> list[Bucket]:
    """The aggregated values of the selected instances (4.5.19), per entity, attribute,
    datasetId and period, on a connection in a transaction. Periods start at timeAt (after,
    between) or at the first selected instance of the attribute and last ``period``; without
    one (or PT0S) there is one period, to endTimeAt, timeAt (before) or the last instance.

    First the attributes (``attrs``, or those with history) and, per attribute, its first
    selected instance (its kind, and the origin of the periods): index probes. Then one
    grouped scan; work_mem is raised for it so that the groups are hashed in memory.
    """
    where, args, column = _where(sel)
    q = sel.query
    pairs = await _pairs(conn, sel)
    n = len(args)
    cols = f"entity_key, attr, {column} AS moment, inst ->> 'type' AS kind"
    firsts = await _per_series(conn, pairs, (where, args, column), cols, last=False, count=1)
    if not firsts:
        return []
    kinds = {(r["entity_key"], r["attr"]): r["kind"] or "Property" for r in firsts}
    origins = [q.time_at if q.timerel in ("after", "between") else r["moment"] for r in firsts]
    if len(set(origins)) == 1:  # one attribute, or periods from timeAt: a constant origin
        origin, join = f"${n + 1}::timestamptz", ""
        args.append(origins[0])
    else:
        origin = "o.origin"
        join = (
            f"JOIN unnest(${n + 1}::bigint[], ${n + 2}::text[], ${n + 3}::timestamptz[]) "
            "AS o(oe, oa, origin) ON o.oe = a.entity_key AND o.oa = a.attr"
        )
        args += [[r["entity_key"] for r in firsts], [r["attr"] for r in firsts], origins]
    if period is None or period.is_zero:
        bucket = origin
        if q.timerel in ("between", "before"):
            end = f"${len(args) + 1}::timestamptz"
            args.append(q.end_time_at if q.timerel == "between" else q.time_at)
        else:
            end = "max(a.moment)"
    elif period.months:
        months = f"${len(args) + 1}::int"
        args.append(period.months)
        age = f"age(a.{column}, {origin})"
        bucket = (
            f"{origin} + (((extract(year FROM {age}) * 12 + extract(month FROM {age}))::int "
            f"/ {months}) * {months}) * interval '1 month'"
        )
        end = f"b + {months} * interval '1 month'"
    else:
        stride = f"${len(args) + 1}::interval"
        args.append(_interval(period.seconds))
        bucket = f"date_bin({stride}, a.{column}, {origin})"
        end = f"b + {stride}"
    chosen = ", ".join(f"{_AGGREGATES[m]} AS m{i}" for i, m in enumerate(methods))
    inst = ", a.inst" if "distinctCount" in methods else ""  # read only when needed
    # Built from constant fragments (see _where and _AGGREGATES); every value is bound.
    # Grouped by hashing (work_mem raised for this transaction), then sorted here.
    sql = (
        f"SELECT entity_key, attr, dataset_id, b, {end} AS e, {chosen} FROM ("  # noqa: S608
        f"SELECT a.entity_key, a.attr, a.dataset_id, a.num, a.{column} AS moment{inst}, "
        f"{bucket} AS b FROM history_instance a {join} WHERE {where}) a "
        "GROUP BY entity_key, attr, dataset_id, b"
    )
    await conn.execute("SET LOCAL work_mem = '64MB'")
    rows = await conn.fetch(sql, *args)
    buckets = [
        Bucket(
            sel.entities[r["entity_key"]],
            r["attr"],
            r["dataset_id"],
            kinds.get((r["entity_key"], r["attr"]), "Property"),
            r["b"],
            r["e"],
            dict(zip(methods, r[5:], strict=True)),  # counts are int, the rest float8
        )
        for r in rows
    ]
    buckets.sort(key=lambda b: (b.entity_id, b.attr, b.dataset_id or "", b.start))
    return buckets


def _interval(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
