"""SQL for subscriptions, the entity_change outbox and notification jobs (migration 0005).

Every statement is bound; claims use ``FOR UPDATE SKIP LOCKED`` so that several broker
processes on one database share the work without sending anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from context_broker.entities.repository import StoredEntity
from context_broker.ngsild.attributes import fill_stamps
from context_broker.subscriptions.matching import Change
from mims_shared.db import jsonb

_COLUMNS = (
    "tenant, id, doc, context, context_value, is_active, expires_at, created_at, modified_at, "
    "times_sent, times_failed, last_notification, last_success, last_failure, delivery_status, "
    "visible_types, visible_until, owner"
)


@dataclass(slots=True)
class StoredSubscription:
    tenant: str
    id: str
    doc: dict[str, Any]
    context: Any
    context_value: Any
    is_active: bool
    expires_at: datetime | None
    created_at: datetime
    modified_at: datetime
    times_sent: int = 0
    times_failed: int = 0
    last_notification: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    delivery_status: str | None = None
    #: The entity type names the subscriber may see (ngsild/visibility.py); None: all.
    visible_types: list[str] | None = None
    #: When the entitlements behind it end (the gateway's word); None: no end.
    visible_until: datetime | None = None
    #: The limited reader who made it (the gateway's subject); None: made without a limit.
    owner: str | None = None


def _subscription(row: asyncpg.Record) -> StoredSubscription:
    return StoredSubscription(**dict(row))


async def insert(conn: asyncpg.Connection, s: StoredSubscription, interval: float | None) -> bool:
    """False when the id is taken in the tenant. Moves the subscription generation."""
    done = await conn.fetchval(
        "INSERT INTO subscription (tenant, id, doc, context, context_value, is_active, "
        "expires_at, time_interval, next_periodic, created_at, modified_at, visible_types, "
        "visible_until, owner) VALUES ($1, $2, $3, $4, $9, $5, $6, $7, $8, $8, $8, $10, $11, $12) "
        "ON CONFLICT (tenant, id) DO NOTHING RETURNING nextval('subscription_generation')",
        s.tenant,
        s.id,
        jsonb(s.doc),
        jsonb(s.context),
        s.is_active,
        s.expires_at,
        interval,
        s.created_at,
        jsonb(s.context_value),
        s.visible_types,
        s.visible_until,
        s.owner,
    )
    return done is not None


async def get(
    conn: asyncpg.Connection, tenant: str, sid: str, *, for_update: bool = False
) -> StoredSubscription | None:
    sql = f"SELECT {_COLUMNS} FROM subscription WHERE tenant = $1 AND id = $2"  # noqa: S608
    row = await conn.fetchrow(sql + (" FOR UPDATE" if for_update else ""), tenant, sid)
    return None if row is None else _subscription(row)


async def save(conn: asyncpg.Connection, s: StoredSubscription, interval: float | None) -> None:
    await conn.execute(
        "UPDATE subscription SET doc = $3, context = $4, is_active = $5, expires_at = $6, "
        "time_interval = $7, next_periodic = CASE WHEN $7::float8 IS NULL THEN NULL "
        "ELSE coalesce(next_periodic, $8) END, modified_at = $8, visible_types = $9, "
        "visible_until = $10 "
        "WHERE tenant = $1 AND id = $2",
        s.tenant,
        s.id,
        jsonb(s.doc),
        jsonb(s.context),
        s.is_active,
        s.expires_at,
        interval,
        s.modified_at,
        s.visible_types,
        s.visible_until,
    )
    await conn.execute("SELECT nextval('subscription_generation')")


async def delete(conn: asyncpg.Connection, tenant: str, sid: str, owner: str | None = None) -> bool:
    """Delete a subscription and its pending notifications (``owner``: only if that
    subscriber made it); whether it was there."""
    done = await conn.fetchval(
        "DELETE FROM subscription WHERE tenant = $1 AND id = $2 "
        "AND ($3::text IS NULL OR owner = $3) "
        "RETURNING nextval('subscription_generation')",
        tenant,
        sid,
        owner,
    )
    if done is not None:
        await conn.execute(
            "DELETE FROM notification_job WHERE tenant = $1 AND subscription = $2", tenant, sid
        )
    return done is not None


async def page(
    conn: asyncpg.Connection, tenant: str, offset: int, limit: int, owner: str | None = None
) -> tuple[list[StoredSubscription], int]:
    """A page of the tenant's subscriptions (``owner``: only that subscriber's)."""
    mine = "($4::text IS NULL OR owner = $4)"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM subscription "  # noqa: S608
        f"WHERE tenant = $1 AND {mine} ORDER BY created_at, id OFFSET $2 LIMIT $3",
        tenant,
        offset,
        limit,
        owner,
    )
    total = int(rows[0]["total"]) if rows else 0
    if not rows and offset > 0:
        total = int(
            await conn.fetchval(
                "SELECT count(*) FROM subscription WHERE tenant = $1 "
                "AND ($2::text IS NULL OR owner = $2)",
                tenant,
                owner,
            )
        )
    return [_subscription({k: v for k, v in r.items() if k != "total"}) for r in rows], total


async def generation(conn: asyncpg.Connection) -> int:
    """The subscription generation: it moves on every subscription write."""
    return int(
        await conn.fetchval(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM subscription_generation"
        )
    )


async def all_subscriptions(conn: asyncpg.Connection) -> list[StoredSubscription]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM subscription")  # noqa: S608
    return [_subscription(r) for r in rows]


# --- the outbox ---------------------------------------------------------------------------
_CLAIM = (
    "SELECT seq, tenant, id, op, old_types, old_attrs, old_scopes, old_stamped, new_types, "
    "new_attrs, new_scopes, new_stamped, created_at, modified_at, at FROM entity_change "
    "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED"
)


def _side(r: asyncpg.Record, side: str) -> StoredEntity | None:
    """The entity before (``old``) or after (``new``) a change, every instance's stamps in
    place (the row's ``stamped``: migrations/0014_implicit_stamps.sql); None if none."""
    types = r[f"{side}_types"]
    if types is None:
        return None
    return StoredEntity(
        r["id"],
        list(types),
        fill_stamps(r[f"{side}_attrs"], r[f"{side}_stamped"]),
        r[f"{side}_scopes"],
        r["created_at"],
        r["modified_at"],
    )


def _change(r: asyncpg.Record) -> Change:
    old, new = _side(r, "old"), _side(r, "new")
    return Change(r["seq"], r["tenant"], r["id"], r["op"], old, new, r["at"])


async def claim_changes(conn: asyncpg.Connection, limit: int) -> list[Change]:
    """The oldest changes no other process holds, locked until the transaction ends."""
    return [_change(r) for r in await conn.fetch(_CLAIM, limit)]


async def forget_changes(conn: asyncpg.Connection, seqs: list[int]) -> None:
    await conn.execute("DELETE FROM entity_change WHERE seq = ANY($1::bigint[])", seqs)


async def q_matches(conn: asyncpg.Connection, docs: list[Any], paths: list[str]) -> set[int]:
    """The positions i for which ``docs[i] @? paths[i]``: the q of Query Entities."""
    rows = await conn.fetch(
        "SELECT i FROM unnest($1::jsonb[], $2::text[]) WITH ORDINALITY AS t(doc, path, i) "
        "WHERE doc @? path::jsonpath",
        [jsonb(d) for d in docs],
        paths,
    )
    return {int(r["i"]) - 1 for r in rows}


# --- notification jobs ----------------------------------------------------------------------
@dataclass(slots=True)
class Job:
    job: int
    tenant: str
    subscription: str
    endpoint: dict[str, Any]
    body: Any
    headers: dict[str, str]
    attempts: int


async def add_jobs(
    conn: asyncpg.Connection, jobs: list[tuple[str, str, Any, Any, Any]], lease_s: float
) -> list[Job]:
    """Store jobs (tenant, subscription, endpoint, body, headers), already leased to the
    caller so that it can deliver them at once."""
    rows = await conn.fetch(
        "INSERT INTO notification_job (tenant, subscription, endpoint, body, headers, attempts, "
        "lease_until) SELECT t, s, e, b, h, 1, clock_timestamp() + make_interval(secs => $6) "
        "FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::jsonb[], $5::jsonb[]) "
        "AS j(t, s, e, b, h) "
        "RETURNING job, tenant, subscription, endpoint, body, headers, attempts",
        [j[0] for j in jobs],
        [j[1] for j in jobs],
        [jsonb(j[2]) for j in jobs],
        [jsonb(j[3]) for j in jobs],
        [jsonb(j[4]) for j in jobs],
        lease_s,
    )
    return [Job(**dict(r)) for r in rows]


async def claim_jobs(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Job]:
    """Due jobs whose lease is over (never leased, failed and waiting, or owned by a process
    that died): leased to the caller, their attempt counted."""
    rows = await conn.fetch(
        "UPDATE notification_job SET attempts = attempts + 1, "
        "lease_until = clock_timestamp() + make_interval(secs => $2) "
        "WHERE job IN (SELECT job FROM notification_job WHERE next_at <= clock_timestamp() "
        "AND (lease_until IS NULL OR lease_until < clock_timestamp()) ORDER BY job "
        "LIMIT $1 FOR UPDATE SKIP LOCKED) "
        "RETURNING job, tenant, subscription, endpoint, body, headers, attempts",
        limit,
        lease_s,
    )
    return [Job(**dict(r)) for r in rows]


async def finish_jobs(
    conn: asyncpg.Connection, done: list[int], retry: list[tuple[int, float]], dropped: list[int]
) -> None:
    """Delivered and given-up jobs are deleted; the others wait ``retry`` seconds."""
    if done or dropped:
        await conn.execute(
            "DELETE FROM notification_job WHERE job = ANY($1::bigint[])", [*done, *dropped]
        )
    if retry:
        await conn.execute(
            "UPDATE notification_job j SET next_at = clock_timestamp() + "
            "make_interval(secs => u.wait), lease_until = NULL "
            "FROM unnest($1::bigint[], $2::float8[]) AS u(job, wait) WHERE j.job = u.job",
            [r[0] for r in retry],
            [r[1] for r in retry],
        )


def _per_subscription(
    items: list[tuple[str, str, datetime]],
) -> list[tuple[str, str, int, datetime]]:
    """(tenant, subscription, count, latest) in key order: subscription rows are always
    locked in the same order, so concurrent transactions cannot deadlock on them."""
    acc: dict[tuple[str, str], tuple[int, datetime]] = {}
    for tenant, sid, at in items:
        n, last = acc.get((tenant, sid), (0, at))
        acc[(tenant, sid)] = (n + 1, max(last, at))
    return [(t, sid, n, at) for (t, sid), (n, at) in sorted(acc.items())]


async def count_sent(conn: asyncpg.Connection, sent: list[tuple[str, str, datetime]]) -> None:
    """timesSent and lastNotification (5.2.14) of notifications about to be sent."""
    await conn.executemany(
        "UPDATE subscription SET times_sent = times_sent + $3, "
        "last_notification = greatest(last_notification, $4) WHERE tenant = $1 AND id = $2",
        _per_subscription(sent),
    )


async def record_outcomes(
    conn: asyncpg.Connection,
    succeeded: list[tuple[str, str, datetime]],
    failed: list[tuple[str, str, datetime]],
) -> None:
    """lastSuccess, lastFailure, timesFailed and status (5.2.14) after deliveries."""
    rows = [(t, s, n, at, True) for t, s, n, at in _per_subscription(succeeded)]
    rows += [(t, s, n, at, False) for t, s, n, at in _per_subscription(failed)]
    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    await conn.executemany(
        "UPDATE subscription SET "
        "last_success = CASE WHEN $5 THEN greatest(last_success, $4) ELSE last_success END, "
        "last_failure = CASE WHEN $5 THEN last_failure ELSE greatest(last_failure, $4) END, "
        "times_failed = times_failed + CASE WHEN $5 THEN 0 ELSE $3 END, "
        "delivery_status = CASE WHEN $5 THEN 'ok' ELSE 'failed' END "
        "WHERE tenant = $1 AND id = $2",
        rows,
    )


async def due_periodic(conn: asyncpg.Connection, now: datetime) -> list[StoredSubscription]:
    """Periodic subscriptions (timeInterval) whose time has come, claimed: their next time
    is moved on, so that only one process sends each round."""
    sql = (
        "UPDATE subscription SET next_periodic = $1 + make_interval(secs => time_interval) "  # noqa: S608
        "WHERE (tenant, id) IN (SELECT tenant, id FROM subscription WHERE time_interval IS NOT "
        "NULL AND next_periodic <= $1 FOR UPDATE SKIP LOCKED) "
        f"RETURNING {_COLUMNS}"
    )
    rows = await conn.fetch(
        sql,
        now,
    )
    return [_subscription(r) for r in rows]
