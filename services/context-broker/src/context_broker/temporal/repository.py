"""SQL for the history (migrations/0006_history.sql): bound statements only.

``attr_instance`` holds one row per attribute instance, partitioned by ``at``; the column a
temporal query compares (``at``, ``created_at``, ``modified_at``, ``deleted_at``) comes from
the fixed map ``TIME_PROPERTIES`` of ngsild/temporal.py, never from the request's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from context_broker.ngsild.temporal import TIME_PROPERTIES, Duration, TemporalQuery

_COLUMNS = frozenset(TIME_PROPERTIES.values())


@dataclass(slots=True)
class TemporalEntityRow:
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


async def history_off(conn: asyncpg.Connection) -> None:
    """The history triggers skip this transaction: the temporal API records its own."""
    await conn.execute("SELECT set_config('mims.history', 'off', true)")


async def add_partitions(conn: asyncpg.Connection, months_ahead: int) -> int:
    """Monthly partitions of the history from this month to ``months_ahead`` later."""
    return int(await conn.fetchval("SELECT history_add_partitions($1)", months_ahead))


def _entity(row: asyncpg.Record) -> TemporalEntityRow:
    return TemporalEntityRow(
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
        "SELECT id, types, scopes, created_at, modified_at, deleted_at FROM temporal_entity "
        "WHERE tenant = $1 AND id = $2"
    )
    row = await conn.fetchrow(sql + (" FOR UPDATE" if for_update else ""), tenant, eid)
    return None if row is None else _entity(row)


async def get_entities(
    conn: asyncpg.Connection, tenant: str, ids: list[str]
) -> dict[str, TemporalEntityRow]:
    rows = await conn.fetch(
        "SELECT id, types, scopes, created_at, modified_at, deleted_at FROM temporal_entity "
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
) -> None:
    await conn.execute(
        "INSERT INTO temporal_entity (tenant, id, types, scopes, created_at, modified_at) "
        "VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (tenant, id) DO UPDATE SET "
        "types = EXCLUDED.types, scopes = EXCLUDED.scopes, modified_at = EXCLUDED.modified_at, "
        "deleted_at = NULL",
        tenant,
        eid,
        types,
        scopes,
        now,
    )


async def insert_instances(
    conn: asyncpg.Connection, tenant: str, eid: str, rows: list[InstanceRow], now: datetime
) -> None:
    """Record instances (two statements whatever their number). An instance observed at
    the same time as one recorded (same attribute and datasetId) replaces it."""
    if not rows:
        return
    observed = [r for r in rows if r.observed_at is not None]
    if observed:
        await conn.execute(
            """
            DELETE FROM attr_instance a
            USING unnest($3::text[], $4::text[], $5::timestamptz[]) AS u(attr, ds, observed_at)
            WHERE a.tenant = $1 AND a.entity_id = $2 AND a.attr = u.attr
              AND a.dataset_id IS NOT DISTINCT FROM u.ds AND a.at = u.observed_at
              AND a.observed_at = u.observed_at
            """,
            tenant,
            eid,
            [r.attr for r in observed],
            [r.inst.get("datasetId") for r in observed],
            [r.observed_at for r in observed],
        )
    await conn.execute(
        """
        INSERT INTO attr_instance (tenant, entity_id, attr, dataset_id, at, observed_at,
                                   created_at, modified_at, deleted_at, num, inst)
        SELECT $1, $2, r.attr, r.inst ->> 'datasetId', r.at, r.observed_at, $3, $3,
               r.deleted_at,
               CASE WHEN jsonb_typeof(r.inst -> 'value') = 'number'
                    THEN (r.inst ->> 'value')::float8 END,
               r.inst
        FROM unnest($4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
                    $8::timestamptz[]) AS u(attr, inst_text, at, observed_at, deleted_at)
        CROSS JOIN LATERAL (SELECT u.attr, u.inst_text::jsonb AS inst, u.at, u.observed_at,
                                   u.deleted_at) AS r
        """,
        tenant,
        eid,
        now,
        [r.attr for r in rows],
        [orjson.dumps(r.inst).decode() for r in rows],
        [r.at for r in rows],
        [r.observed_at for r in rows],
        [r.deleted_at for r in rows],
    )


async def delete_entity(conn: asyncpg.Connection, tenant: str, eid: str) -> bool:
    """Forget the whole history of an entity; False when there was none."""
    await conn.execute(
        "DELETE FROM attr_instance WHERE tenant = $1 AND entity_id = $2", tenant, eid
    )
    done = await conn.fetchval(
        "DELETE FROM temporal_entity WHERE tenant = $1 AND id = $2 RETURNING 1", tenant, eid
    )
    return done is not None


async def delete_attribute(
    conn: asyncpg.Connection,
    tenant: str,
    eid: str,
    attr: str,
    dataset_id: str | None,
    delete_all: bool,
) -> int:
    """Forget the instances of an attribute (of one datasetId, or all); how many."""
    if delete_all:
        status = await conn.execute(
            "DELETE FROM attr_instance WHERE tenant = $1 AND entity_id = $2 AND attr = $3",
            tenant,
            eid,
            attr,
        )
    else:
        status = await conn.execute(
            "DELETE FROM attr_instance WHERE tenant = $1 AND entity_id = $2 AND attr = $3 "
            "AND dataset_id IS NOT DISTINCT FROM $4",
            tenant,
            eid,
            attr,
            dataset_id,
        )
    return int(status.rsplit(" ", 1)[-1])


async def get_instance(
    conn: asyncpg.Connection, tenant: str, eid: str, attr: str, instance_id: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT inst FROM attr_instance WHERE tenant = $1 AND entity_id = $2 AND attr = $3 "
        "AND instance_id = $4::uuid FOR UPDATE",
        tenant,
        eid,
        attr,
        instance_id,
    )
    return None if row is None else dict(row["inst"])


async def replace_instance(
    conn: asyncpg.Connection,
    tenant: str,
    eid: str,
    attr: str,
    instance_id: str,
    inst: dict[str, Any],
    observed_at: datetime | None,
    now: datetime,
) -> None:
    """Correct one instance (5.6.14): its members and times; it keeps its instanceId. The
    row moves to another partition when its time changes (PostgreSQL does that)."""
    await conn.execute(
        "UPDATE attr_instance SET inst = $5::text::jsonb, observed_at = $6, "
        "at = coalesce($6, at), modified_at = $7, dataset_id = $5::text::jsonb ->> 'datasetId', "
        "num = CASE WHEN jsonb_typeof($5::text::jsonb -> 'value') = 'number' "
        "THEN ($5::text::jsonb ->> 'value')::float8 END "
        "WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4::uuid",
        tenant,
        eid,
        attr,
        instance_id,
        orjson.dumps(inst).decode(),
        observed_at,
        now,
    )


async def delete_instance(
    conn: asyncpg.Connection, tenant: str, eid: str, attr: str, instance_id: str
) -> bool:
    done = await conn.fetchval(
        "DELETE FROM attr_instance WHERE tenant = $1 AND entity_id = $2 AND attr = $3 "
        "AND instance_id = $4::uuid RETURNING 1",
        tenant,
        eid,
        attr,
        instance_id,
    )
    return done is not None


@dataclass(frozen=True, slots=True)
class Selection:
    """Which instances a temporal read wants: entities, attributes, datasetIds, time."""

    tenant: str
    ids: list[str]
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
    args: list[Any] = [sel.tenant, sel.ids]
    clauses = ["tenant = $1", "entity_id = ANY($2::text[])"]

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


async def read(conn: asyncpg.Connection, sel: Selection) -> list[StoredInstance]:
    """The selected instances in (entity, attribute, time) order; with lastN, the last N of
    each attribute of each entity."""
    where, args, column = _where(sel)
    cols = (
        f"entity_id, attr, instance_id::text AS iid, {column} AS moment, created_at, "
        "modified_at, deleted_at, inst"
    )
    # Built from constant fragments (see _where); every value is bound.
    if sel.query.last_n:
        sql = (
            f"SELECT * FROM (SELECT {cols}, row_number() OVER ("  # noqa: S608
            f"PARTITION BY entity_id, attr ORDER BY {column} DESC) AS rn "
            f"FROM attr_instance WHERE {where}) s WHERE rn <= ${len(args) + 1} "
            "ORDER BY entity_id, attr, moment"
        )
        args.append(sel.query.last_n)
    else:
        sql = f"SELECT {cols} FROM attr_instance WHERE {where} ORDER BY entity_id, attr, moment"  # noqa: S608
    rows = await conn.fetch(sql, *args)
    return [
        StoredInstance(
            r["entity_id"],
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
    "distinctCount": "count(DISTINCT coalesce(inst -> 'value', inst -> 'object', inst))",
    "sum": "sum(num)",
    "avg": "avg(num)",
    "min": "min(num)",
    "max": "max(num)",
    "stddev": "CASE WHEN count(num) > 0 THEN coalesce(stddev_samp(num), 0) END",
    "sumsq": "sum(num * num)",
}


async def aggregate(
    conn: asyncpg.Connection,
    sel: Selection,
    methods: list[str],
    period: Duration | None,
) -> list[Bucket]:
    """The aggregated values of the selected instances (4.5.19), per entity, attribute,
    datasetId and period. Periods start at timeAt (after, between) or at the first instance
    of the attribute, and last ``period``; without one (or PT0S) there is one period."""
    where, args, column = _where(sel)
    q = sel.query
    n = len(args)
    if q.timerel in ("after", "between"):
        origin = f"${n + 1}::timestamptz"
        args.append(q.time_at)
    else:
        origin = f"min({column}) OVER (PARTITION BY entity_id, attr)"
    if period is None or period.is_zero:
        bucket = "o"
        if q.timerel == "between":
            end = f"${len(args) + 1}::timestamptz"
            args.append(q.end_time_at)
        elif q.timerel == "before":
            end = f"${len(args) + 1}::timestamptz"
            args.append(q.time_at)
        else:
            end = "max(moment)"
    elif period.months:
        months = f"${len(args) + 1}::int"
        args.append(period.months)
        bucket = (
            f"o + ((((extract(year FROM age(moment, o)) * 12 + extract(month FROM age(moment, o)))"
            f"::int / {months}) * {months}) * interval '1 month')"
        )
        end = f"b + {months} * interval '1 month'"
    else:
        stride = f"${len(args) + 1}::interval"
        args.append(_interval(period.seconds))
        bucket = f"date_bin({stride}, moment, o)"
        end = f"b + {stride}"
    chosen = ", ".join(f"{_AGGREGATES[m]} AS m{i}" for i, m in enumerate(methods))
    # Built from constant fragments (see _where and _AGGREGATES); every value is bound.
    sql = (
        f"SELECT entity_id, attr, dataset_id, min(kind) AS kind, b, {end} AS e, {chosen} "  # noqa: S608
        f"FROM (SELECT entity_id, attr, dataset_id, inst, num, moment, inst ->> 'type' AS kind, "
        f"{bucket} AS b FROM (SELECT entity_id, attr, dataset_id, inst, num, "
        f"{column} AS moment, {origin} AS o FROM attr_instance WHERE {where}) s) t "
        "GROUP BY entity_id, attr, dataset_id, b ORDER BY entity_id, attr, dataset_id, b"
    )
    rows = await conn.fetch(sql, *args)
    return [
        Bucket(
            r["entity_id"],
            r["attr"],
            r["dataset_id"],
            r["kind"] or "Property",
            r["b"],
            r["e"],
            {m: _number(r[f"m{i}"]) for i, m in enumerate(methods)},
        )
        for r in rows
    ]


def _interval(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _number(value: Any) -> Any:
    """Results as JSON numbers: counts stay integers, the rest are floats."""
    if value is None or isinstance(value, int):
        return value
    return float(value)
