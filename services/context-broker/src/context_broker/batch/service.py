"""Batch entity operations (ETSI GS CIM 009 V1.8.1, clauses 5.6.7-5.6.10 and 5.6.20).

Each entity of a batch succeeds or fails on its own: an entity that fails is reported with its
ProblemDetails (BatchEntityError, 5.2.17) and nothing of it is written; the others are written
(BatchOperationResult, 5.2.16). Whole-request checks come first and fail the request with
BadRequestData (400): the body is not a JSON array, it is empty, it holds more than
``MAX_BATCH`` (1000) items, or an item is not an entity object with a string ``id`` (an item
without an id cannot be named in a BatchEntityError; a ``null`` item is a 400 by 5.6.7.4).

Every entity is built and checked in Python with the single-entity building blocks, then the
whole batch is written with a constant number of SQL statements (batch/repository.py): one
for create, upsert (replace) and delete; a locking read and one write, in one transaction, for
upsert (update), update and merge. All entities of a batch get the same modifiedAt (5.5.11).

The same id more than once in a batch (5.5.11) is processed in array order, as if each
occurrence came in its own request:

- create: the first valid occurrence creates the entity; later ones are AlreadyExists errors;
- upsert: the first occurrence creates (when the entity is new), later ones replace it
  (default) or are appended to it (``update``) — with replace the last occurrence wins;
- update and merge: applied in order to the entity;
- delete: the first occurrence deletes, later ones are ResourceNotFound errors.

An id is listed once in ``success`` however often it occurs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from context_broker.batch import repository
from context_broker.contexts.service import ContextService
from context_broker.datamodels.service import NO_CHECK
from context_broker.entities.repository import StoredEntity
from context_broker.entities.service import EntityService, apply_written
from context_broker.ngsild.attributes import as_list, stored
from context_broker.ngsild.ids import is_uri
from context_broker.ngsild.jsonld import CompiledContext, ContextError, context_key
from mims_shared.collector import collector_paused
from mims_shared.db import Database
from mims_shared.errors import (
    AlreadyExists,
    BadRequestData,
    DomainError,
    NotFound,
    ServiceUnavailable,
)

#: The largest batch, in entities (or ids for delete); a larger one is BadRequestData.
MAX_BATCH = 1000


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class BatchResult:
    """What a batch did: ids that succeeded (in order, once each), those created, errors."""

    success: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    errors: list[tuple[str, DomainError]] = field(default_factory=list)


class _Run:
    """Collects the outcome of each item while a batch runs."""

    def __init__(self) -> None:
        self._ok: dict[str, bool] = {}  # id -> created
        self._errors: list[tuple[int, str, DomainError]] = []

    def fail(self, index: int, eid: str, error: DomainError) -> None:
        self._errors.append((index, eid, error))

    def ok(self, eid: str, *, created: bool = False) -> None:
        self._ok[eid] = self._ok.get(eid, False) or created

    def result(self) -> BatchResult:
        return BatchResult(
            success=list(self._ok),
            created=[eid for eid, created in self._ok.items() if created],
            errors=[(eid, err) for _, eid, err in sorted(self._errors, key=lambda x: x[0])],
        )


@dataclass(slots=True)
class _Fragment:
    """An entity of a batch update or merge, checked and expanded."""

    index: int
    id: str
    body: dict[str, Any]
    ctx: CompiledContext
    written: dict[str, tuple[Any, set[str | None]]]


#: Entities of one type created by batch operations after which the statistics are
#: refreshed (and again each time the type's count since has doubled).
ANALYZE_AFTER = 5000
#: Types whose batch-created counts are remembered (beyond this, the memory starts again).
_TYPES_REMEMBERED = 10_000
#: The statistics taken during a load sample 9,000 rows (statistics target 30), not the
#: 30,000 of the default target: what the plans need from them (how many entities, how
#: many of each type among the 30 most common) holds on the smaller sample, and each costs
#: a third (76 instead of 200 ms of the database at 50,000 entities, measured), taken from
#: the load it runs beside. Autovacuum's next ANALYZE takes the full statistics again.
_ANALYZE = "SET LOCAL default_statistics_target = 30; ANALYZE entity"


class Staleness:
    """When the planner's statistics of ``entity`` are stale after batch creations.

    Those of a type are stale once ``ANALYZE_AFTER`` of its entities have been created since
    they were taken, and at least as many as before them; those of the table once as many
    entities of any types have been created, by the same rule. A load of n entities is
    followed by about log2(n / ANALYZE_AFTER) ANALYZEs, not n / ANALYZE_AFTER (each samples
    up to 9,000 rows, _ANALYZE), while a type new to a
    large table is analysed after its first ``ANALYZE_AFTER``."""

    def __init__(self) -> None:
        self._gained: Counter[str] = Counter()  # type -> created since the last ANALYZE
        self._known: dict[str, int] = {}  # type -> created before it
        self._gained_total = 0
        self._known_total = 0

    def created(self, types: Iterable[str]) -> None:
        if len(self._gained) > _TYPES_REMEMBERED:
            self._gained.clear()
        self._gained.update(types)
        self._gained_total += 1

    def due(self) -> bool:
        """Whether an ANALYZE is due; if so, the counts are taken as analysed."""
        known = self._known
        if self._gained_total < max(ANALYZE_AFTER, self._known_total) and not any(
            n >= max(ANALYZE_AFTER, known.get(t, 0)) for t, n in self._gained.items()
        ):
            return False
        if len(known) > _TYPES_REMEMBERED:
            known.clear()
        for t, n in self._gained.items():
            known[t] = known.get(t, 0) + n
        self._gained.clear()
        self._known_total += self._gained_total
        self._gained_total = 0
        return True


def _copy(e: StoredEntity) -> StoredEntity:
    return StoredEntity(
        e.id,
        list(e.types),
        copy.deepcopy(e.attrs),
        e.scopes,
        e.created_at,
        e.modified_at,
        e.stamped,
    )


def _array(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise BadRequestData(f"The request body must be a JSON array of {what}")
    if not body:
        raise BadRequestData(f"The request body is an empty array; it must hold {what}")
    if len(body) > MAX_BATCH:
        raise BadRequestData(
            f"The batch holds {len(body)} items; at most {MAX_BATCH} are allowed per request"
        )
    return body


def _entities(body: Any) -> list[dict[str, Any]]:
    """The entities of a batch, each an object with a string id (else the whole batch fails)."""
    items = _array(body, "entities")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequestData(f"Item {n} of the batch is not an entity (a JSON object)")
        eid = item.get("id", item.get("@id"))
        if not isinstance(eid, str):
            raise BadRequestData(f"Item {n} of the batch has no id (a string)")
    return items


def _id_of(item: dict[str, Any]) -> str:
    return str(item["id"] if "id" in item else item["@id"])


async def _guard(run: Callable[[], Any]) -> Any:
    """Run a transaction; a deadlock with a concurrent batch is a 503 to retry, not a 500."""
    try:
        return await run()
    except asyncpg.exceptions.DeadlockDetectedError:
        raise ServiceUnavailable(
            "The batch conflicted with a concurrent write on the same entities; retry it"
        ) from None


class BatchService:
    def __init__(self, db: Database, entities: EntityService, contexts: ContextService) -> None:
        self.db = db
        self._staleness = Staleness()
        self._analyzing: asyncio.Task[None] | None = None
        self.entities = entities
        self.contexts = contexts

    async def _contexts(
        self, items: list[dict[str, Any]], link: CompiledContext | None
    ) -> list[CompiledContext | DomainError]:
        """The @context of each entity: ``link`` (application/json), else each entity's own
        ``@context`` (application/ld+json, 6.3.5), compiled once per distinct value."""
        if link is not None:
            return [link] * len(items)
        seen: dict[Any, CompiledContext | DomainError] = {}
        out: list[CompiledContext | DomainError] = []
        for item in items:
            value = item.get("@context")
            if value is None:
                out.append(
                    BadRequestData("A body sent as application/ld+json must carry its @context")
                )
                continue
            try:
                key = context_key(value)
            except ContextError as exc:
                out.append(BadRequestData(f"The @context is not valid: {exc}"))
                continue
            if key not in seen:
                try:
                    seen[key] = await self.contexts.compiled(value)
                except DomainError as exc:
                    seen[key] = exc
            out.append(seen[key])
        return out

    async def _built(
        self,
        tenant: str,
        items: list[dict[str, Any]],
        link: CompiledContext | None,
        now: datetime,
        run: _Run,
        *,
        checked: bool = True,
        whole: bool = True,
    ) -> list[tuple[int, StoredEntity]]:
        """Each entity built as Create Entity builds it (5.6.1); failures go to ``run``.
        ``checked``: also checked against its data model (MIM2) as it is built; ``whole``:
        each is stored as it is built (its stamps implicit), not merged into a stored one."""
        built: list[tuple[int, StoredEntity]] = []
        check = await self.entities.checker(tenant) if checked else None
        contexts = await self._contexts(items, link)
        with collector_paused():  # a burst of acyclic objects, and no await (collector.py)
            for n, (item, ctx) in enumerate(zip(items, contexts, strict=True)):
                try:
                    if isinstance(ctx, DomainError):
                        raise ctx
                    e = self.entities.build(
                        item, ctx, context_in_body=link is None, now=now, implicit=whole
                    )
                    if check is not None:
                        check(e)
                except DomainError as exc:
                    run.fail(n, _id_of(item), exc)
                    continue
                built.append((n, e))
        return built

    def _bulk_written(self, created: Iterable[StoredEntity]) -> None:
        """After bulk loads, refresh the planner's statistics of ``entity`` at once rather
        than when autovacuum next looks (up to a minute later): without them, paging by id
        sorts every entity of a type instead of walking the primary key (12 ms instead of
        0.1 ms for a page of 10,000 entities just loaded). When: :class:`Staleness`."""
        for e in created:
            self._staleness.created(e.types)
        if self._analyzing is not None and not self._analyzing.done():
            return
        if not self._staleness.due():
            return

        async def analyze() -> None:
            with contextlib.suppress(Exception):  # statistics only: never fail a write for it
                async with self.db.unit_of_work() as uow:
                    await uow.connection.execute(_ANALYZE)
                    await uow.commit()

        self._analyzing = asyncio.create_task(analyze())

    # --- the operations --------------------------------------------------------------------
    async def create(self, tenant: str, body: Any, link: CompiledContext | None) -> BatchResult:
        """Batch Entity Creation (5.6.7): each entity as Create Entity (5.6.1)."""
        items = _entities(body)
        now, run = _now(), _Run()
        first: dict[str, tuple[int, StoredEntity]] = {}
        for n, e in await self._built(tenant, items, link, now, run):
            if e.id in first:
                run.fail(
                    n, e.id, AlreadyExists(f"Entity {e.id} already exists (earlier in the batch)")
                )
            else:
                first[e.id] = (n, e)

        async def write() -> set[str]:
            async with self.db.unit_of_work(transaction=False) as uow:
                entities = [e for _, e in first.values()]
                return await repository.insert_new(uow.connection, tenant, entities, now)

        inserted: set[str] = await _guard(write) if first else set()
        self._bulk_written(e for eid, (_, e) in first.items() if eid in inserted)
        for eid, (n, _) in first.items():
            if eid in inserted:
                run.ok(eid, created=True)
            else:
                run.fail(n, eid, AlreadyExists(f"Entity {eid} already exists"))
        return run.result()

    async def upsert(
        self, tenant: str, body: Any, link: CompiledContext | None, *, update: bool
    ) -> BatchResult:
        """Batch Entity Creation or Update (5.6.8): a new entity is created; an existing one
        is replaced whole (default, as Replace Entity 5.6.18, keeping its createdAt) or, with
        ``update``, has the attributes given appended, overwriting those of the same name and
        datasetId (as Append Attributes 5.6.3), its types and scopes added."""
        items = _entities(body)
        now, run = _now(), _Run()
        # An update appends to what is stored: the data model is checked on the result, as
        # Append Attributes does (a partial entity may lack what the model requires).
        built = await self._built(
            tenant, items, link, now, run, checked=not update, whole=not update
        )
        refused: dict[str, DomainError] = {}

        async def replace() -> dict[str, bool]:
            final = {e.id: e for _, e in built}  # the last occurrence wins
            async with self.db.unit_of_work(transaction=False) as uow:
                return await repository.upsert(uow.connection, tenant, list(final.values()), now)

        async def append() -> dict[str, bool]:
            async with self.db.unit_of_work() as uow:
                conn = uow.connection
                current = await repository.lock(conn, tenant, [e.id for _, e in built])
                final: dict[str, StoredEntity] = {}
                for _, e in built:
                    base = final.get(e.id) or current.get(e.id)
                    if base is None:
                        final[e.id] = e
                        continue
                    for iri, value in e.attrs.items():
                        apply_written(base, iri, value, set(), merge_members=False)
                    base.types = list(dict.fromkeys([*base.types, *e.types]))
                    if e.scopes:
                        base.scopes = list(dict.fromkeys([*(base.scopes or []), *e.scopes]))
                    final[e.id] = base
                check = await self.entities.checker(tenant)
                for eid, entity in list(final.items()):
                    try:
                        check(entity)
                    except DomainError as exc:
                        refused[eid] = exc
                        del final[eid]
                created = await repository.upsert(conn, tenant, list(final.values()), now)
                await uow.commit()
            return created

        created: dict[str, bool] = await _guard(append if update else replace) if built else {}
        self._bulk_written({e.id: e for _, e in built if created.get(e.id)}.values())
        reported: set[str] = set()
        for n, e in built:
            if e.id in refused:
                if e.id not in reported:  # once, at the entity's first item
                    reported.add(e.id)
                    run.fail(n, e.id, refused[e.id])
            else:
                run.ok(e.id, created=created.get(e.id, False))
        return run.result()

    async def _fragments(
        self, items: list[dict[str, Any]], link: CompiledContext | None, run: _Run, *, merge: bool
    ) -> list[_Fragment]:
        """Each entity of an update or merge checked and expanded; failures go to ``run``."""
        now = _iso(_now())
        out: list[_Fragment] = []
        for n, (item, ctx) in enumerate(zip(items, await self._contexts(items, link), strict=True)):
            eid = _id_of(item)
            try:
                if isinstance(ctx, DomainError):
                    raise ctx
                out.append(
                    self._fragment(n, eid, item, ctx, now, in_body=link is None, merge=merge)
                )
            except DomainError as exc:
                run.fail(n, eid, exc)
        return out

    def _fragment(
        self,
        n: int,
        eid: str,
        item: dict[str, Any],
        ctx: CompiledContext,
        now: str,
        *,
        in_body: bool,
        merge: bool,
    ) -> _Fragment:
        if not is_uri(eid):
            raise BadRequestData(f"The entity id {eid[:200]!r} is not a URI")
        if in_body and "@context" not in item:
            raise BadRequestData("A body sent as application/ld+json must carry its @context")
        if not in_body and "@context" in item:
            raise BadRequestData(
                "A body sent as application/json must not carry @context; "
                "send it in a Link header or use application/ld+json"
            )
        body = {k: v for k, v in item.items() if k not in ("@id", "@type")}
        body["id"] = eid
        if "@type" in item and "type" not in item:
            body["type"] = item["@type"]
        written = self.entities.written(eid, body, ctx, now)
        if not merge and not written and "type" not in body:
            raise BadRequestData(f"Entity {eid} holds no attribute to update")
        # Check type and scope now, on a scratch entity, so that applying cannot fail later.
        scratch = StoredEntity(eid, [], {}, None, now, now)
        self.entities.entity_members(scratch, body, ctx, replace_scope=merge)
        return _Fragment(n, eid, body, ctx, written)

    async def _modify_each(
        self,
        tenant: str,
        fragments: list[_Fragment],
        run: _Run,
        change: Callable[[StoredEntity, _Fragment], None],
    ) -> None:
        """Read the entities locked, apply ``change`` per fragment in order, write back."""
        now = _now()
        check = await self.entities.checker(tenant)

        async def write() -> None:
            async with self.db.unit_of_work() as uow:
                conn = uow.connection
                current = await repository.lock(conn, tenant, [f.id for f in fragments])
                changed: dict[str, StoredEntity] = {}
                for f in fragments:
                    e = current.get(f.id)
                    if e is None:
                        run.fail(f.index, f.id, NotFound(f"Entity {f.id} does not exist"))
                        continue
                    before = _copy(e) if check is not NO_CHECK else e
                    change(e, f)
                    try:
                        check(e)
                    except DomainError as exc:  # MIM2 enforce: this change is not written
                        current[f.id] = before
                        if f.id in changed:
                            changed[f.id] = before
                        run.fail(f.index, f.id, exc)
                        continue
                    changed[f.id] = e
                    run.ok(f.id)
                await repository.update(conn, tenant, list(changed.values()), now)
                await uow.commit()

        if fragments:
            await _guard(write)

    async def update(
        self, tenant: str, body: Any, link: CompiledContext | None, *, no_overwrite: bool
    ) -> BatchResult:
        """Batch Entity Update (5.6.9): each entity as Append Attributes (5.6.3) on an
        existing entity; with ``noOverwrite`` attribute instances already there are kept."""
        items = _entities(body)
        run = _Run()
        fragments = await self._fragments(items, link, run, merge=False)

        def change(e: StoredEntity, f: _Fragment) -> None:
            for iri, (value, gone) in f.written.items():
                old = e.attrs.get(iri)
                if no_overwrite and old is not None and value is not None:
                    have = {i.get("datasetId") for i in as_list(old)}
                    fresh = [i for i in as_list(value) if i.get("datasetId") not in have]
                    if not fresh:
                        continue
                    value = stored(fresh)
                apply_written(e, iri, value, gone, merge_members=False)
            self.entities.entity_members(e, f.body, f.ctx, replace_scope=False)

        await self._modify_each(tenant, fragments, run, change)
        return run.result()

    async def merge(self, tenant: str, body: Any, link: CompiledContext | None) -> BatchResult:
        """Batch Entity Merge (5.6.20): each entity as Merge Entity (5.6.17)."""
        items = _entities(body)
        run = _Run()
        fragments = await self._fragments(items, link, run, merge=True)

        def change(e: StoredEntity, f: _Fragment) -> None:
            for iri, (value, gone) in f.written.items():
                apply_written(e, iri, value, gone, merge_members=True)
            self.entities.entity_members(e, f.body, f.ctx, replace_scope=True)

        await self._modify_each(tenant, fragments, run, change)
        return run.result()

    async def delete(self, tenant: str, body: Any) -> BatchResult:
        """Batch Entity Delete (5.6.10): each id as Delete Entity (5.6.6)."""
        ids = _array(body, "entity ids")
        for n, eid in enumerate(ids):
            if not isinstance(eid, str):
                raise BadRequestData(f"Item {n} of the batch is not an entity id (a string)")
        run = _Run()
        first: dict[str, int] = {}
        for n, eid in enumerate(ids):
            if not is_uri(eid):
                run.fail(n, eid, BadRequestData(f"The entity id {eid[:200]!r} is not a URI"))
            elif eid in first:
                run.fail(
                    n, eid, NotFound(f"Entity {eid} does not exist (deleted earlier in the batch)")
                )
            else:
                first[eid] = n

        async def write() -> set[str]:
            async with self.db.unit_of_work(transaction=False) as uow:
                return await repository.delete(uow.connection, tenant, list(first))

        deleted: set[str] = await _guard(write) if first else set()
        for eid, n in first.items():
            if eid in deleted:
                run.ok(eid)
            else:
                run.fail(n, eid, NotFound(f"Entity {eid} does not exist"))
        return run.result()
