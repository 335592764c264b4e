"""SQL for harvest sources, their jobs, and the records a source owns."""

from __future__ import annotations

from typing import Any

import asyncpg

from mims_shared.db import jsonb

_INSERT = (
    "INSERT INTO harvest_source (id, record, interval_s, next_run) "
    "VALUES ($1, $2, $3, CASE WHEN $3::int IS NULL THEN NULL ELSE now() END) "
    "ON CONFLICT (id) DO NOTHING RETURNING created, modified"
)
_ENSURE = (
    "INSERT INTO harvest_source (id, record, interval_s, next_run) VALUES ($1, $2, $3, now()) "
    "ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, interval_s = EXCLUDED.interval_s"
)
_GET = "SELECT id, record, interval_s, created, modified FROM harvest_source WHERE id = $1"
_LIST = "SELECT id, record, interval_s, created, modified FROM harvest_source ORDER BY id"
_DELETE = "DELETE FROM harvest_source WHERE id = $1 RETURNING 1"
_CLAIM = (
    "UPDATE harvest_source SET next_run = now() + make_interval(secs => interval_s) "
    "WHERE id = (SELECT id FROM harvest_source WHERE next_run <= now() "
    "ORDER BY next_run FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id"
)
_JOB = (
    "INSERT INTO harvest_job (source_id, started, finished, report) VALUES ($1, $2, $3, $4) "
    "RETURNING id"
)
_JOBS = (
    "SELECT id, started, finished, report FROM harvest_job WHERE source_id = $1 "
    "ORDER BY id DESC LIMIT $2"
)
_OWNED = "SELECT kind, id FROM record WHERE source = $1"
_MODELS = (
    "SELECT id, record -> 'entityTypes' AS types FROM record WHERE kind = 'data-model' "
    "AND record -> 'entityTypes' ?| $1::text[] ORDER BY id"
)
_DELETE_RECORD = "DELETE FROM record WHERE kind = $1 AND id = $2 AND source = $3"
_USED = (
    "SELECT 1 FROM record WHERE refs @> ARRAY[$1::text] AND (source IS DISTINCT FROM $2) LIMIT 1"
)


async def insert(
    conn: asyncpg.Connection, sid: str, record: dict[str, Any], interval: int | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(_INSERT, sid, jsonb(record), interval)


async def ensure(conn: asyncpg.Connection, sid: str, record: dict[str, Any], interval: int) -> None:
    await conn.execute(_ENSURE, sid, jsonb(record), interval)


async def get(conn: asyncpg.Connection, sid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_GET, sid)


async def all_sources(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(_LIST))


async def delete(conn: asyncpg.Connection, sid: str) -> bool:
    return await conn.fetchval(_DELETE, sid) is not None


async def claim_due(conn: asyncpg.Connection) -> str | None:
    value = await conn.fetchval(_CLAIM)
    return None if value is None else str(value)


async def add_job(
    conn: asyncpg.Connection, sid: str, started: Any, finished: Any, report: dict[str, Any]
) -> int:
    return int(await conn.fetchval(_JOB, sid, started, finished, jsonb(report)))


async def jobs(conn: asyncpg.Connection, sid: str, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(_JOBS, sid, limit))


async def owned(conn: asyncpg.Connection, sid: str) -> set[tuple[str, str]]:
    return {(r["kind"], r["id"]) for r in await conn.fetch(_OWNED, sid)}


async def models_for(conn: asyncpg.Connection, types: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in await conn.fetch(_MODELS, types):
        for t in row["types"]:
            out.setdefault(t, []).append(row["id"])
    return out


async def delete_owned(conn: asyncpg.Connection, kind: str, rid: str, sid: str) -> bool:
    """Delete a record the source owns unless a record of someone else names it."""
    if await conn.fetchval(_USED, f"{kind}/{rid}", sid):
        return False
    if kind == "dataset":
        await conn.execute("DELETE FROM policy WHERE dataset_id = $1", rid)
    return await conn.fetchval(_DELETE_RECORD + " RETURNING 1", kind, rid, sid) is not None
