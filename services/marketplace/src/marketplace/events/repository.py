"""SQL of hubs and of the outbox."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from marketplace.resources.compose import GUARD, Write
from marketplace.tmf.events import Event
from mims_shared.db import jsonb

_HUB_INSERT = "INSERT INTO hub (id, api, callback, query, event_types) VALUES ($1, $2, $3, $4, $5)"
_HUB_DELETE = "DELETE FROM hub WHERE api = $1 AND id = $2 RETURNING 1"


def fan_out(first: int) -> str:
    """The statement that fans events out to the hubs of their API that want them; its
    three array parameters (APIs, event types, bodies) are numbered from ``first``, so that
    it can follow a write in one statement (``WITH w AS (<write>) <fan_out>``)."""
    a, b, c = first, first + 1, first + 2
    # Parameter numbers only, no input, in this text.
    return (
        "INSERT INTO outbox (hub_id, method, url, body) "  # noqa: S608
        "SELECT h.id, 'POST', h.callback, e.body "
        f"FROM unnest(${a}::text[], ${b}::text[], ${c}::jsonb[]) AS e(api, type, body) "
        "JOIN hub h ON h.api = e.api AND (h.event_types IS NULL OR e.type = ANY(h.event_types))"
    )


def event_arrays(events: list[Event]) -> tuple[list[str], list[str], list[str]]:
    """The parameters of :func:`fan_out` for ``events``."""
    return (
        [e.api.path for e in events],
        [e.event_type for e in events],
        [jsonb(e.body) for e in events],
    )


def events_write(events: list[Event]) -> Write:
    """``events`` fanned out to their listeners, with the write that causes them."""
    return Write(lambda first: f"{fan_out(first)} WHERE {GUARD}", event_arrays(events), True)


def _calls_sql(first: int) -> str:
    a, b, c = first, first + 1, first + 2
    # Parameter numbers only, no input, in this text.
    return (
        "INSERT INTO outbox (method, url, body) "  # noqa: S608
        f"SELECT * FROM unnest(${a}::text[], ${b}::text[], ${c}::jsonb[]) WHERE {GUARD}"
    )


def calls_write(calls: list[tuple[str, str, dict[str, Any] | None]]) -> Write:
    """Plain HTTP ``calls`` (method, url, body) queued with the write that causes them."""
    return Write(
        _calls_sql,
        (
            [c[0] for c in calls],
            [c[1] for c in calls],
            [None if c[2] is None else jsonb(c[2]) for c in calls],
        ),
        True,
    )


_CLAIM = (
    "UPDATE outbox SET attempts = attempts + 1, "
    "next_attempt_at = now() + make_interval(secs => $2) "
    "WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= now() "
    "ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) "
    "RETURNING id, method, url, body, attempts"
)
_DONE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_RETRY = (
    "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 "
    "WHERE id = $1"
)
_GIVE_UP = "UPDATE outbox SET next_attempt_at = 'infinity', last_error = $2 WHERE id = $1"


async def insert_hub(
    conn: asyncpg.Connection,
    hid: uuid.UUID,
    api: str,
    callback: str,
    query: str | None,
    types: list[str] | None,
) -> None:
    await conn.execute(_HUB_INSERT, hid, api, callback, query, types)


async def delete_hub(conn: asyncpg.Connection, api: str, hid: uuid.UUID) -> bool:
    return await conn.fetchval(_HUB_DELETE, api, hid) is not None


async def claim(conn: asyncpg.Connection, batch: int, lease_s: float) -> list[asyncpg.Record]:
    """Due deliveries, leased for ``lease_s`` seconds (another replica skips them)."""
    rows: list[asyncpg.Record] = await conn.fetch(_CLAIM, batch, lease_s)
    return rows


async def done(conn: asyncpg.Connection, ids: list[int]) -> None:
    if ids:
        await conn.execute(_DONE, ids)


async def retry(conn: asyncpg.Connection, oid: int, delay_s: float, error: str) -> None:
    await conn.execute(_RETRY, oid, delay_s, error[:500])


async def give_up(conn: asyncpg.Connection, oid: int, error: str) -> None:
    await conn.execute(_GIVE_UP, oid, error[:500])
