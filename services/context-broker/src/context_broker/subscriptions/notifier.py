"""The notifier: from the entity_change outbox to the subscribers' endpoints (ETSI GS CIM 009
V1.8.1, 5.8.1.4 and 5.11 Notification; bindings 7.? HTTP and MQTT).

Each broker process runs one. It wakes on the ``mims_entity_change`` NOTIFY the outbox
triggers send (and polls as a fallback), and in one transaction claims a batch of changes
no other process holds, matches them against the active subscriptions, stores one job per
notification (rendered, leased to itself) and deletes the changes. It then delivers the
jobs it holds. A failed delivery waits (exponential backoff) and is retried by whichever
process claims it; a job whose process died is taken over when its lease ends. So a change
acknowledged to a writer is notified even across a crash, and once per subscription.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import asyncpg
import orjson

from context_broker.contexts.service import ContextService
from context_broker.entities.links import parse_join
from context_broker.entities.repository import StoredEntity
from context_broker.entities.service import EntityService, GeoParams, View, expand_name
from context_broker.ngsild.geo import GeoQuery, parse_geo_query
from context_broker.ngsild.jsonld import CompiledContext
from context_broker.ngsild.links import link_header
from context_broker.ngsild.query import parse_q, q_to_jsonpath
from context_broker.ngsild.representation import Format
from context_broker.ngsild.selectors import Atom, is_scope_pattern, map_atoms, parse_selector
from context_broker.ngsild.subscription import DEFAULT_TRIGGERS, subscription_q
from context_broker.ngsild.visibility import earliest
from context_broker.subscriptions import repository
from context_broker.subscriptions.matching import (
    Change,
    EntitySelector,
    Live,
    diff,
    notified_entity,
    selects,
    trigger_reason,
)
from context_broker.subscriptions.repository import Job, StoredSubscription
from context_broker.subscriptions.service import iso, own_context
from mims_shared import http1
from mims_shared.db import Database, libpq_url
from mims_shared.errors import DomainError

log = logging.getLogger("mims.notifier")

CHANNEL = "mims_entity_change"
BATCH = 500
LEASE_S = 30.0
#: Delivery attempts of one notification before it is given up; the waits between them.
MAX_ATTEMPTS = 5
BACKOFF_S = (1.0, 2.0, 4.0, 8.0)
DEFAULT_TIMEOUT_S = 10.0
#: How long a loop waits after a failed step (the database may be away).
ERROR_WAIT_S = 1.0

Sender = Callable[[Job], Awaitable[bool]]


def _now() -> datetime:
    return datetime.now(UTC)


def _format(fmt: str | None) -> Format:
    return {"keyValues": "simplified", "simplified": "simplified", "concise": "concise"}.get(
        fmt or "", "normalized"
    )  # type: ignore[return-value]


def _projection(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(items)


def compile_live(
    s: StoredSubscription, ctx: CompiledContext, render_ctx: CompiledContext, link_url: str
) -> Live:
    """A stored subscription with its names expanded once (see matching.Live)."""
    doc = s.doc
    note = doc["notification"]
    selectors = None
    if "entities" in doc:
        selectors = tuple(
            EntitySelector(
                map_atoms(
                    parse_selector(sel["type"], "type", lambda t: True),
                    lambda t: expand_name(ctx, t),
                ),
                sel.get("id"),
                re.compile(sel["idPattern"]) if "idPattern" in sel else None,
            )
            for sel in doc["entities"]
        )
    geo = None
    if "geoQ" in doc:
        g = doc["geoQ"]
        parsed = parse_geo_query(g["georel"], g["geometry"], g["coordinates"])
        if parsed is not None:
            geo = GeoQuery(parsed[0], parsed[1], expand_name(ctx, g.get("geoproperty", "location")))
    datasets = doc.get("datasetId")
    if isinstance(datasets, str):
        datasets = [datasets]
    attrs = note.get("attributes")
    view = View(
        fmt=_format(note.get("format")),
        sys_attrs=bool(note.get("sysAttrs", False)),
        attrs=frozenset(expand_name(ctx, a) for a in attrs) if attrs else None,
        pick=_projection(note.get("pick")),
        omit=_projection(note.get("omit")),
        lang=doc.get("lang"),
        dataset_ids=frozenset(datasets) if datasets else None,
        visible=frozenset(s.visible_types) if s.visible_types is not None else None,
    )
    return Live(
        tenant=s.tenant,
        id=s.id,
        doc=doc,
        ctx=ctx,
        render_ctx=render_ctx,
        link_url=link_url,
        context_value=link_url,
        selectors=selectors,
        watched=frozenset(expand_name(ctx, a) for a in doc["watchedAttributes"])
        if "watchedAttributes" in doc
        else None,
        triggers=frozenset(doc.get("notificationTrigger", DEFAULT_TRIGGERS)),
        q_path=q_to_jsonpath(parse_q(subscription_q(doc["q"])), ctx.expand) if "q" in doc else None,
        geo=geo,
        scope=parse_selector(doc["scopeQ"], "scopeQ", is_scope_pattern)
        if "scopeQ" in doc
        else None,
        view=view,
        show_changes=bool(note.get("showChanges", False)),
        endpoint=note["endpoint"],
        join=parse_join(note.get("join"), note.get("joinLevel")),
        throttling=doc.get("throttling"),
        time_interval=doc.get("timeInterval"),
        is_active=s.is_active,
        expires_at=earliest(s.expires_at, s.visible_until),
        since=s.modified_at,
        last_sent=s.last_notification,
    )


#: What delivery changes in a stored subscription; every other field defines it.
_DELIVERY = frozenset(
    {
        "times_sent",
        "times_failed",
        "last_notification",
        "last_success",
        "last_failure",
        "delivery_status",
    }
)


#: The fields a compiled subscription (Live) is made from.
_DEFINING = tuple(f.name for f in fields(StoredSubscription) if f.name not in _DELIVERY)


def definition(s: StoredSubscription) -> tuple[Any, ...]:
    """What a compiled subscription (Live) is made from: equal, it need not be made again."""
    return tuple(getattr(s, name) for name in _DEFINING)


class Notifier:
    def __init__(
        self,
        db: Database,
        contexts: ContextService,
        entities: EntityService,
        *,
        poll_s: float = 1.0,
        lease_s: float = LEASE_S,
    ) -> None:
        self.db = db
        self.contexts = contexts
        self.entities = entities
        self.poll_s = poll_s
        self.lease_s = lease_s
        self._generation: int | None = None
        #: Per tenant: subscriptions by the entity type they select (plain types), and the
        #: others (type expressions, idPattern-only, watchedAttributes only), looked at for
        #: every change.
        self._subs: dict[str, tuple[dict[str, list[Live]], list[Live]]] = {}
        #: (tenant, id) -> the definition it was compiled from, and the compiled subscription
        self._compiled: dict[tuple[str, str], tuple[tuple[Any, ...], Live]] = {}
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._order: dict[tuple[str, str], asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: asyncpg.Connection | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._mqtt = MqttSender()
        self._http = HttpSender()
        self._stopping = False

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(self._match_once, "match"), name="notifier-match"),
            asyncio.create_task(self._run(self._retry_once, "retry"), name="notifier-retry"),
            asyncio.create_task(
                self._run(self._periodic_once, "periodic"), name="notifier-periodic"
            ),
            asyncio.create_task(self._listen(), name="notifier-listen"),
        ]

    async def stop(self) -> None:
        """Let the loops finish the step they are in (a step is one short transaction, so
        no connection is abandoned half-way), then stop; deliveries under way end first."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        loops = [t for t in self._tasks if t.get_name() != "notifier-listen"]
        for task in self._tasks:
            if task not in loops:
                task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._deliveries:
            await asyncio.wait(self._deliveries, timeout=10)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        await self._mqtt.close()
        self._http.close()

    def poke(self) -> None:
        """Look at the outbox now (a write in this process committed)."""
        self._wake.set()

    async def _listen(self) -> None:
        """LISTEN for the outbox's NOTIFY; reconnects while the database is away."""
        while not self._stopping:
            try:
                conn = await asyncpg.connect(libpq_url(self.db.url))
                self._listener = conn
                await conn.add_listener(CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # changes may have come while nobody listened
                await self._until_closed(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("notifier: LISTEN connection lost: %s", exc)
                await asyncio.sleep(self.poll_s)

    @staticmethod
    async def _until_closed(conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda *_: lost.set())
        await lost.wait()

    async def _run(self, step: Callable[[], Awaitable[float | None]], name: str) -> None:
        """Run ``step`` forever; it says how long to wait (None: until woken or polled)."""
        while not self._stopping:
            if name == "match":
                # Cleared before the step: a NOTIFY arriving during it wakes the next one.
                self._wake.clear()
            try:
                wait = await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifier %s step failed; retrying", name)
                wait = ERROR_WAIT_S
            if name == "match":
                if wait == 0:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), wait if wait is not None else self.poll_s
                    )

    # --- subscriptions in memory ------------------------------------------------------
    async def _refresh(self, conn: asyncpg.Connection) -> None:
        generation = await repository.generation(conn)
        if generation == self._generation:
            return
        stored = await repository.all_subscriptions(conn)
        subs: dict[str, tuple[dict[str, list[Live]], list[Live]]] = {}
        compiled: dict[tuple[str, str], tuple[tuple[Any, ...], Live]] = {}
        for s in stored:
            key, defined = (s.tenant, s.id), definition(s)
            before = self._compiled.get(key)
            live = await self._live(s, before[1] if before and before[0] == defined else None)
            if live is None:
                continue
            compiled[key] = (defined, live)
            by_type, rest = subs.setdefault(s.tenant, (defaultdict(list), []))
            atoms = [sel.types for sel in live.selectors or ()]
            if atoms and all(isinstance(a, Atom) for a in atoms):
                for text in {a.text for a in atoms if isinstance(a, Atom)}:
                    by_type[text].append(live)
            else:
                rest.append(live)
        self._subs = subs
        self._compiled = compiled
        self._generation = generation

    async def _live(self, s: StoredSubscription, same: Live | None = None) -> Live | None:
        """``s`` compiled; ``same``, what it was compiled to at the last reload from the same
        definition, is kept when its @contexts did not change either (a reload after one
        subscription changed compiles that one, not every one)."""
        link = s.doc.get("jsonldContext") or s.context
        try:
            own = await self.contexts.compiled(own_context(s))
            render = await self.contexts.compiled(link) if link != s.context else own
            if same is not None and same.ctx is own and same.render_ctx is render:
                # what another process sent since counts for throttling too
                sent = s.last_notification
                if sent is not None and (same.last_sent is None or sent > same.last_sent):
                    same.last_sent = sent
                return same
            return compile_live(s, own, render, link)
        except DomainError as exc:
            log.warning("subscription %s cannot be used now: %s", s.id, exc)
            return None

    # --- matching ---------------------------------------------------------------------
    async def _match_once(self) -> float | None:
        """One batch of the outbox; 0 when there may be more at once."""
        now = _now()
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            changes = await repository.claim_changes(conn, BATCH)
            if not changes:
                return None
            # Subscriptions are read after the claim, never before: a subscription made
            # before a write is then always seen with that write's change (read first, a
            # subscription committed between the two statements missed it for good).
            await self._refresh(conn)
            found = self._candidates(changes, now)
            found = await self._with_q(conn, found)
            jobs = []
            for sub, change, d, reason in found:
                if not self._throttle_ok(sub, now):
                    continue
                body = await self._notification(sub, change, d, reason)
                jobs.append(self._job(sub, body))
            leased = await repository.add_jobs(conn, jobs, self.lease_s) if jobs else []
            await repository.count_sent(conn, [(j.tenant, j.subscription, now) for j in leased])
            await repository.forget_changes(conn, [c.seq for c in changes])
            await uow.commit()
        if leased:
            self._deliver_soon(leased)
        return 0 if len(changes) == BATCH else None

    def _candidates(
        self, changes: list[Change], now: datetime
    ) -> list[tuple[Live, Change, Any, str]]:
        found = []
        for change in changes:
            indexed = self._subs.get(change.tenant)
            if indexed is None:
                continue
            by_type, rest = indexed
            subs = {id(s): s for t in change.current.types for s in by_type.get(t, ())}
            subs.update((id(s), s) for s in rest)
            if not subs:
                continue
            d = diff(change)
            for sub in subs.values():
                if sub.time_interval is not None or not sub.active(now):
                    continue
                if sub.since is not None and change.at < sub.since:
                    continue
                reason = trigger_reason(sub, change, d)
                if reason is not None and selects(sub, change):
                    found.append((sub, change, d, reason))
        return found

    async def _with_q(
        self, conn: asyncpg.Connection, found: list[tuple[Live, Change, Any, str]]
    ) -> list[tuple[Live, Change, Any, str]]:
        """Keep the candidates whose entity satisfies the subscription's q (in SQL, as
        Query Entities does)."""
        asks = [i for i, f in enumerate(found) if f[0].q_path is not None]
        if not asks:
            return found
        ok = await repository.q_matches(
            conn,
            [found[i][1].current.attrs for i in asks],
            [found[i][0].q_path or "" for i in asks],
        )
        refused = {asks[j] for j in range(len(asks)) if j not in ok}
        return [f for i, f in enumerate(found) if i not in refused]

    def _throttle_ok(self, sub: Live, now: datetime) -> bool:
        """throttling (5.2.12): at most one notification per period."""
        last = sub.last_sent
        if sub.throttling and last is not None and (now - last).total_seconds() < sub.throttling:
            return False
        sub.last_sent = now
        return True

    async def _notification(self, sub: Live, change: Change, d: Any, reason: str) -> Any:
        at = iso(change.at)
        entity = notified_entity(sub, change, d, reason, at)
        data = await self._render(sub, [entity])
        if change.op == "delete" and data:
            data[0]["deletedAt"] = at
        return self._body(sub, data, reason)

    async def _render(self, sub: Live, found: list[StoredEntity]) -> list[dict[str, Any]]:
        ctx = sub.render_ctx
        shown = [(e, v) for e in found if (v := self.entities.render(e, ctx, sub.view))]
        data = [v for _, v in shown]
        if sub.join is not None and shown:
            view = replace(sub.view, attrs=None)
            data += await self.entities.join(sub.tenant, shown, ctx, view, sub.join)
        return data

    def _body(self, sub: Live, data: list[dict[str, Any]], reason: str | None) -> Any:
        body: dict[str, Any] = {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": sub.id,
            "notifiedAt": iso(_now()),
            "data": data,
        }
        if reason is not None:
            body["triggerReason"] = reason
        return body

    def _job(self, sub: Live, body: Any) -> tuple[str, str, Any, Any, Any]:
        headers: dict[str, str] = {}
        if sub.endpoint.get("accept") == "application/ld+json":
            body["@context"] = sub.context_value
            body["data"] = [{**e, "@context": sub.context_value} for e in body["data"]]
            headers["Content-Type"] = "application/ld+json"
        else:
            headers["Content-Type"] = "application/json"
            headers["Link"] = link_header(sub.link_url)
        if sub.tenant:
            headers["NGSILD-Tenant"] = sub.tenant
        for pair in sub.endpoint.get("receiverInfo", []):
            headers[pair["key"]] = pair["value"]
        return (sub.tenant, sub.id, sub.endpoint, body, headers)

    # --- periodic notifications (timeInterval) ----------------------------------------
    async def _periodic_once(self) -> float | None:
        now = _now()
        async with self.db.unit_of_work() as uow:
            due = await repository.due_periodic(uow.connection, now)
            await uow.commit()
        jobs = []
        for s in due:
            live = await self._live(s)
            if live is None or not live.active(now):
                continue
            found = await self._periodic_entities(live)
            if found:
                jobs.append(self._job(live, self._body(live, found, None)))
        if jobs:
            async with self.db.unit_of_work() as uow:
                leased = await repository.add_jobs(uow.connection, jobs, self.lease_s)
                await repository.count_sent(
                    uow.connection, [(j.tenant, j.subscription, now) for j in leased]
                )
                await uow.commit()
            self._deliver_soon(leased)
        return 0.25

    async def _periodic_entities(self, sub: Live) -> list[dict[str, Any]]:
        """The entities a periodic subscription selects now, as Query Entities finds them."""
        doc = sub.doc
        geo = None
        if "geoQ" in doc:
            g = doc["geoQ"]
            geo = GeoParams(g["georel"], g["geometry"], g["coordinates"], g.get("geoproperty"))
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for sel in doc.get("entities", [{}]):
            found, _ = await self.entities.query(
                sub.tenant,
                sub.ctx,
                replace(sub.view),
                ids=[sel["id"]] if "id" in sel else None,
                id_pattern=sel.get("idPattern"),
                types=None,
                attrs=None,
                q=subscription_q(doc["q"]) if "q" in doc else None,
                offset=0,
                limit=1000,
                count=False,
                everything=True,
                type_expr=sel.get("type"),
                scope_q=doc.get("scopeQ"),
                geo=geo,
            )
            for entity in found:
                if entity.get("id") not in seen:
                    seen.add(str(entity.get("id")))
                    out.append(entity)
        return out

    # --- delivery ---------------------------------------------------------------------
    async def _retry_once(self) -> float | None:
        async with self.db.unit_of_work() as uow:
            jobs = await repository.claim_jobs(uow.connection, BATCH, self.lease_s)
            now = _now()
            await repository.count_sent(
                uow.connection, [(j.tenant, j.subscription, now) for j in jobs]
            )
            await uow.commit()
        if jobs:
            await self._deliver(jobs)
        return 0.5

    def _deliver_soon(self, jobs: list[Job]) -> None:
        task = asyncio.create_task(self._deliver_logged(jobs))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver_logged(self, jobs: list[Job]) -> None:
        """Deliver; if the outcome cannot be recorded the jobs are retried when their
        lease ends."""
        try:
            await self._deliver(jobs)
        except Exception:
            log.exception("notifier: recording %d deliveries failed", len(jobs))

    async def _send_in_order(self, jobs: list[Job]) -> list[bool]:
        key = (jobs[0].tenant, jobs[0].subscription)
        lock = self._order.setdefault(key, asyncio.Lock())
        async with lock:  # FIFO: a later batch of this subscription waits for this one
            return [await self._send(j) for j in sorted(jobs, key=lambda j: j.job)]

    async def _deliver(self, jobs: list[Job]) -> None:
        """Send the jobs: those of one subscription one after the other, in the order of
        the changes (a receiver sees an entity's changes in order), subscriptions at once."""
        groups: dict[tuple[str, str], list[Job]] = {}
        for job in jobs:
            groups.setdefault((job.tenant, job.subscription), []).append(job)
        results = await asyncio.gather(*(self._send_in_order(g) for g in groups.values()))
        sent = {
            j.job: ok
            for g, oks in zip(groups.values(), results, strict=True)
            for j, ok in zip(sorted(g, key=lambda j: j.job), oks, strict=True)
        }
        outcomes = [sent[j.job] for j in jobs]
        at = _now()
        done, retry, dropped, succeeded, failed = [], [], [], [], []
        for job, ok in zip(jobs, outcomes, strict=True):
            if ok:
                done.append(job.job)
                succeeded.append((job.tenant, job.subscription, at))
                continue
            failed.append((job.tenant, job.subscription, at))
            if job.attempts < MAX_ATTEMPTS:
                retry.append((job.job, BACKOFF_S[min(job.attempts, len(BACKOFF_S)) - 1]))
            else:
                dropped.append(job.job)
        # One transaction; subscription rows first, in key order, then jobs: the order in
        # which Delete Subscription locks them too, so the two cannot deadlock.
        async with self.db.unit_of_work() as uow:
            await repository.record_outcomes(uow.connection, succeeded, failed)
            await repository.finish_jobs(uow.connection, done, retry, dropped)
            await uow.commit()

    async def _send(self, job: Job) -> bool:
        endpoint = job.endpoint
        uri = str(endpoint["uri"])
        body = dict(job.body)
        body["notifiedAt"] = iso(_now())
        timeout = float(endpoint.get("timeout", DEFAULT_TIMEOUT_S * 1000)) / 1000
        try:
            if uri.startswith(("mqtt://", "mqtts://")):
                return await self._mqtt.send(uri, endpoint, job.headers, body, timeout)
            return await self._http.send(uri, job.headers, orjson.dumps(body), timeout)
        except (http1.UpstreamError, OSError, TimeoutError) as exc:
            log.info("notification to %s failed: %r", uri, exc)
            return False
        except Exception:
            log.exception("notification to %s failed", uri)
            return False


class HttpSender:
    """HTTP binding of notifications (ETSI GS CIM 009 V1.8.1, 7.? : POST of the Notification
    to the endpoint's URI): keep-alive connections pooled per origin, over the lean HTTP/1.1
    client the gateway also uses (:mod:`mims_shared.http1`). Any 2xx is a delivery; the
    answer's body is read and dropped so that the connection can be used again."""

    #: Idle connections kept per origin (a receiver behind one URL gets the notifications of
    #: many subscriptions at once).
    MAX_IDLE = 64
    #: The most of a receiver's answer read before the connection is given up.
    MAX_ANSWER = 1 << 20

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int | None], http1.Pool] = {}

    def _pool(self, scheme: str, host: str, port: int | None) -> http1.Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            netloc = f"[{host}]" if ":" in host else host
            base = f"{scheme}://{netloc}" + (f":{port}" if port else "")
            # Time limits come from each endpoint, around the whole exchange (see send).
            pool = http1.Pool(base, max_idle=self.MAX_IDLE, connect_timeout=3600, read_timeout=3600)
            self._pools[key] = pool
        return pool

    async def send(self, uri: str, headers: dict[str, str], body: bytes, timeout: float) -> bool:
        parts = urlsplit(uri)
        pool = self._pool(parts.scheme, parts.hostname or "", parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if parts.username is not None:  # credentials in the URI (RFC 9110, 11.2: Basic)
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append((b"Authorization", b"Basic " + base64.b64encode(secret.encode())))
        async with asyncio.timeout(timeout):
            resp = await pool.send("POST", target.encode("latin-1"), lines, body, retries=0)
            try:
                await resp.read(self.MAX_ANSWER)
            finally:
                resp.release()
        return 200 <= resp.status < 300

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class MqttSender:
    """MQTT binding of notifications (ETSI GS CIM 009 V1.8.1, 7.? / Annex: the message is
    ``{"metadata": {headers}, "body": notification}``); one connection per broker and
    credentials, kept open."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = asyncio.Lock()

    async def send(
        self,
        uri: str,
        endpoint: dict[str, Any],
        headers: dict[str, str],
        body: Any,
        timeout: float,
    ) -> bool:

        info = {p["key"]: p["value"] for p in endpoint.get("notifierInfo", [])}
        parts = urlsplit(uri)
        version = (
            aiomqtt.ProtocolVersion.V5
            if info.get("MQTT-Version") == "mqtt5.0"
            else aiomqtt.ProtocolVersion.V311
        )
        key = (parts.hostname, parts.port, parts.username, parts.password, version, parts.scheme)
        topic = unquote(parts.path.lstrip("/"))
        qos = int(info.get("MQTT-QoS", "0"))
        message = orjson.dumps({"metadata": headers, "body": body})
        for attempt in range(2):
            client = await self._client(key, parts, version, timeout)
            try:
                await asyncio.wait_for(client.publish(topic, message, qos=qos), timeout)
                return True
            except (aiomqtt.MqttError, TimeoutError):
                await self._drop(key)
                if attempt == 1:
                    return False
        return False

    async def _client(self, key: tuple[Any, ...], parts: Any, version: Any, timeout: float) -> Any:

        async with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = aiomqtt.Client(
                    parts.hostname,
                    parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                    username=unquote(parts.username) if parts.username else None,
                    password=unquote(parts.password) if parts.password else None,
                    protocol=version,
                    timeout=timeout,
                    tls_params=aiomqtt.TLSParameters() if parts.scheme == "mqtts" else None,
                )
                await asyncio.wait_for(client.__aenter__(), timeout)
                self._clients[key] = client
            return client

    async def _drop(self, key: tuple[Any, ...]) -> None:
        async with self._lock:
            client = self._clients.pop(key, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    async def close(self) -> None:
        for key in list(self._clients):
            await self._drop(key)
