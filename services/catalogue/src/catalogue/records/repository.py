"""SQL for records: bound statements on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from catalogue.dcat.model import IndexColumns
from mims_shared.db import jsonb

_INSERT = (
    "INSERT INTO record (kind, id, parent, source, record, refs, themes, orgs, formats, "
    "licences, tags, models, title_sort) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (kind, id) DO NOTHING RETURNING issued, modified"
)
_REPLACE = (
    "UPDATE record SET parent = $3, record = $4, refs = $5, themes = $6, orgs = $7, "
    "formats = $8, licences = $9, tags = $10, models = $11, title_sort = $12, "
    "modified = clock_timestamp() WHERE kind = $1 AND id = $2 RETURNING issued, modified"
)
_UPSERT = (
    "INSERT INTO record (kind, id, parent, source, record, refs, themes, orgs, formats, "
    "licences, tags, models, title_sort) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
    "ON CONFLICT (kind, id) DO UPDATE SET parent = EXCLUDED.parent, source = EXCLUDED.source, "
    "record = EXCLUDED.record, refs = EXCLUDED.refs, themes = EXCLUDED.themes, "
    "orgs = EXCLUDED.orgs, formats = EXCLUDED.formats, licences = EXCLUDED.licences, "
    "tags = EXCLUDED.tags, models = EXCLUDED.models, title_sort = EXCLUDED.title_sort, "
    "modified = clock_timestamp() "
    "WHERE record.record IS DISTINCT FROM EXCLUDED.record "
    "RETURNING (xmax = 0) AS created"
)
_GET = (
    "SELECT kind, id, parent, source, record, issued, modified FROM record "
    "WHERE kind = $1 AND id = $2"
)
_GET_MANY = (
    "SELECT kind, id, parent, source, record, issued, modified FROM record r "
    "JOIN unnest($1::text[], $2::text[]) AS k(kind, id) USING (kind, id)"
)
_LIST = (
    "SELECT kind, id, parent, source, record, issued, modified, count(*) OVER () AS total "
    "FROM record WHERE kind = $1 AND ($4::text IS NULL OR parent = $4) "
    "ORDER BY modified DESC, id OFFSET $2 LIMIT $3"
)
_COUNT = "SELECT count(*) FROM record WHERE kind = $1 AND ($2::text IS NULL OR parent = $2)"
_CHILDREN = (
    "SELECT kind, id, parent, source, record, issued, modified FROM record "
    "WHERE parent = ANY($1::text[]) AND kind = 'distribution' ORDER BY parent, id"
)
_DELETE = "DELETE FROM record WHERE kind = $1 AND id = $2 RETURNING 1"
_DELETE_CHILDREN = "DELETE FROM record WHERE parent = $1 AND kind = 'distribution'"
_REFERRERS = (
    "SELECT kind, id FROM record WHERE refs @> ARRAY[$1::text] "
    "AND NOT (kind = 'distribution' AND parent = $2 AND $3::text = 'dataset') "
    "ORDER BY kind, id LIMIT 20"
)
_INDEX = (
    "UPDATE record SET themes = $2, orgs = $3, formats = $4, licences = $5, tags = $6, "
    "models = $7, title_sort = $8, modified = clock_timestamp() "
    "WHERE kind = 'dataset' AND id = $1"
)
_POLICIES = (
    "SELECT dataset_id, policy_id, body FROM policy WHERE dataset_id = ANY($1::text[]) "
    "ORDER BY dataset_id, policy_id"
)
_PUT_POLICY = (
    "INSERT INTO policy (dataset_id, policy_id, body) VALUES ($1, $2, $3) "
    "ON CONFLICT (dataset_id, policy_id) DO UPDATE SET body = EXCLUDED.body, "
    "modified = clock_timestamp() RETURNING (xmax = 0) AS created"
)
_GET_POLICY = "SELECT body FROM policy WHERE dataset_id = $1 AND policy_id = $2"
_DELETE_POLICY = "DELETE FROM policy WHERE dataset_id = $1 AND policy_id = $2 RETURNING 1"
_DELETE_POLICIES = "DELETE FROM policy WHERE dataset_id = $1"
_TOUCH = "UPDATE record SET modified = clock_timestamp() WHERE kind = $1 AND id = $2"


def _index_args(cols: IndexColumns) -> tuple[Any, ...]:
    return (
        cols.themes,
        cols.orgs,
        cols.formats,
        cols.licences,
        cols.tags,
        cols.models,
        cols.title_sort,
    )


async def insert(
    conn: asyncpg.Connection,
    kind: str,
    rid: str,
    parent: str | None,
    source: str | None,
    record: dict[str, Any],
    refs: list[str],
    cols: IndexColumns,
) -> asyncpg.Record | None:
    """The (issued, modified) stamps, or None when the id is taken."""
    return await conn.fetchrow(
        _INSERT, kind, rid, parent, source, jsonb(record), refs, *_index_args(cols)
    )


async def replace(
    conn: asyncpg.Connection,
    kind: str,
    rid: str,
    parent: str | None,
    record: dict[str, Any],
    refs: list[str],
    cols: IndexColumns,
) -> asyncpg.Record | None:
    return await conn.fetchrow(_REPLACE, kind, rid, parent, jsonb(record), refs, *_index_args(cols))


async def upsert(
    conn: asyncpg.Connection,
    kind: str,
    rid: str,
    parent: str | None,
    source: str,
    record: dict[str, Any],
    refs: list[str],
    cols: IndexColumns,
) -> bool | None:
    """True: created, False: changed, None: unchanged."""
    row = await conn.fetchrow(
        _UPSERT, kind, rid, parent, source, jsonb(record), refs, *_index_args(cols)
    )
    return None if row is None else bool(row["created"])


async def get(conn: asyncpg.Connection, kind: str, rid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, kind, rid)


async def get_many(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> list[asyncpg.Record]:
    if not keys:
        return []
    return list(await conn.fetch(_GET_MANY, [k for k, _ in keys], [i for _, i in keys]))


async def page(
    conn: asyncpg.Connection, kind: str, offset: int, limit: int, parent: str | None
) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(_LIST, kind, offset, limit, parent)
    if rows:
        return rows, int(rows[0]["total"])
    return [], int(await conn.fetchval(_COUNT, kind, parent))


async def children(conn: asyncpg.Connection, parents: Sequence[str]) -> list[asyncpg.Record]:
    if not parents:
        return []
    return list(await conn.fetch(_CHILDREN, list(parents)))


async def delete(conn: asyncpg.Connection, kind: str, rid: str) -> bool:
    if kind == "dataset":
        await conn.execute(_DELETE_CHILDREN, rid)
        await conn.execute(_DELETE_POLICIES, rid)
    return await conn.fetchval(_DELETE, kind, rid) is not None


async def referrers(conn: asyncpg.Connection, kind: str, rid: str) -> list[asyncpg.Record]:
    """Records that name ``kind/rid`` (a dataset's own distributions excepted)."""
    return list(await conn.fetch(_REFERRERS, f"{kind}/{rid}", rid, kind))


async def set_index(conn: asyncpg.Connection, rid: str, cols: IndexColumns) -> None:
    await conn.execute(_INDEX, rid, *_index_args(cols))


async def policies(conn: asyncpg.Connection, datasets: Sequence[str]) -> list[asyncpg.Record]:
    if not datasets:
        return []
    return list(await conn.fetch(_POLICIES, list(datasets)))


async def put_policy(
    conn: asyncpg.Connection, dataset: str, pid: str, body: dict[str, Any]
) -> bool:
    """True when the policy is new."""
    created = bool(await conn.fetchval(_PUT_POLICY, dataset, pid, jsonb(body)))
    await conn.execute(_TOUCH, "dataset", dataset)
    return created


async def get_policy(conn: asyncpg.Connection, dataset: str, pid: str) -> Any:
    return await conn.fetchval(_GET_POLICY, dataset, pid)


async def delete_policy(conn: asyncpg.Connection, dataset: str, pid: str) -> bool:
    done = await conn.fetchval(_DELETE_POLICY, dataset, pid) is not None
    if done:
        await conn.execute(_TOUCH, "dataset", dataset)
    return done
