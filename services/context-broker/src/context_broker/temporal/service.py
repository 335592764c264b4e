"""Temporal use cases (ETSI GS CIM 009 V1.8.1, 5.6.11-5.6.16 and 5.7.3-5.7.4).

Where history comes from: every write to the current-state ``entity`` table is recorded by
the triggers of migrations/0006_history.sql (as changed by 0010_history_keys.sql: the rows
refer to the entity's key, instances are numbered; and by 0012_history_snapshots.sql: a
created entity is one snapshot row, the update of one entity is recorded by the statement
that makes it). The temporal API writes instances straight into
the history and, like Stellio, keeps the current state in step: after a temporal write the
entity exists in ``entity`` with, for each attribute and datasetId, its most recent instance
(by observedAt). It turns the triggers off for its own transaction, so nothing is recorded
twice. Deleting the temporal representation of an entity deletes its current state too;
deleting an entity through /entities keeps its history (instances marked deleted).

Temporal queries select entities with the filters of Query Entities, evaluated on the
current state (entities/ service, unchanged), then read their history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from context_broker.datamodels.service import Checker
from context_broker.entities import repository as entity_repository
from context_broker.entities.repository import StoredEntity
from context_broker.entities.service import (
    EntityService,
    GeoParams,
    View,
    expand_name,
    is_deletion,
    parse_scopes,
)
from context_broker.ngsild.attributes import as_list, instance_from, stamp, stored
from context_broker.ngsild.entity import parse_entity
from context_broker.ngsild.ids import is_uri, is_valid_name
from context_broker.ngsild.jsonld import CompiledContext, compact_entity_keys, expand_entity_keys
from context_broker.ngsild.representation import apply_language
from context_broker.ngsild.temporal import (
    Duration,
    Page,
    TemporalQuery,
    aggregated_attribute,
    iso,
    paginate,
    parse_datetime,
    simplified_attribute,
    strip_instance,
)
from context_broker.ngsild.visibility import refuse_hidden
from context_broker.temporal import repository
from context_broker.temporal.repository import (
    InstanceRef,
    InstanceRow,
    Selection,
    StoredInstance,
)
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, InvalidRequest, NotFound, ServiceUnavailable

log = logging.getLogger("context_broker.temporal")
INSTANCE_PREFIX = "urn:ngsi-ld:Instance:"
#: The scope's history is kept as that of a Property under this IRI ("scope" in the core
#: @context; migrations/0006_history.sql).
SCOPE = "https://uri.etsi.org/ngsi-ld/scope"
#: Months of history partitions made ahead at start-up.
PARTITIONS_AHEAD = 3


def _now() -> datetime:
    return datetime.now(UTC)


def _check_id(eid: str) -> None:
    if not is_uri(eid):
        raise BadRequestData(f"The entity id {eid[:200]!r} is not a URI")


def _check_name(name: str) -> None:
    if not is_valid_name(name):
        raise BadRequestData(f"The attribute name {name[:200]!r} is not valid")


def _instance_ref(instance_id: str) -> InstanceRef:
    """The stored instance an instanceId names: ``urn:ngsi-ld:Instance:<number>``,
    ``urn:ngsi-ld:Instance:<number>-<place>`` for an instance recorded in the snapshot of a
    created entity (migration 0012), or ``urn:ngsi-ld:Instance:<uuid>`` for instances
    recorded before migration 0010."""
    if not is_uri(instance_id):
        raise BadRequestData(f"The instanceId {instance_id[:200]!r} is not a URI")
    tail = instance_id.removeprefix(INSTANCE_PREFIX)
    if tail != instance_id:
        number, dash, place = tail.partition("-")
        if _digits(number, 18) and (not dash or (_digits(place, 10) and int(place) < 2**31)):
            return InstanceRef(number=int(number), sub=int(place) if dash else None)
    hexdigits = tail.replace("-", "")
    if len(hexdigits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits):
        raise NotFound(f"No attribute instance {instance_id[:200]}")
    return InstanceRef(legacy=tail)


def _digits(text: str, most: int) -> bool:
    return 0 < len(text) <= most and text.isascii() and text.isdigit()


@dataclass(frozen=True, slots=True)
class TemporalView:
    """How the reader wants the temporal evolution (5.7.3, 6.3.12)."""

    fmt: str = "normalized"  # normalized | temporalValues | aggregatedValues
    sys_attrs: bool = False
    attrs: list[str] | None = None  # expanded
    dataset_ids: frozenset[str | None] | None = None
    pick: frozenset[str] | None = None
    omit: frozenset[str] | None = None
    lang: str | None = None
    aggr_methods: tuple[str, ...] = ()
    aggr_period: Duration | None = None
    #: The entity type names the reader may see (ngsild/visibility.py); None: all.
    visible: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """A temporal write, checked and expanded: instances to record per attribute IRI."""

    eid: str
    types: list[str]
    scopes: list[str] | None
    instances: dict[str, list[dict[str, Any]]]


class TemporalService:
    def __init__(self, db: Database, entities: EntityService, page_limit: int) -> None:
        self.db = db
        self.entities = entities
        self.page_limit = page_limit

    async def prepare(self) -> int:
        """Make the coming months' history partitions (called at start-up). Without them
        (database not reachable yet) history goes to the DEFAULT partition: still correct.
        Also learns whether the database records history (its triggers enabled): the
        entity service records the history of its own updates only then."""
        try:
            async with self.db.unit_of_work() as uow:
                made = await repository.add_partitions(uow.connection, PARTITIONS_AHEAD)
                self.entities.tell_history = await repository.recording(uow.connection)
                await uow.commit()
        except ServiceUnavailable:
            return 0
        return made

    async def keep_partitions(self, every_s: float = 86_400) -> None:
        """Make the coming months' partitions once a day, for as long as the broker runs."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.prepare()
            except Exception:  # logged; the DEFAULT partition keeps history meanwhile
                log.exception("history partitions could not be made")

    # --- checking a temporal write ---------------------------------------------------------
    def _written(
        self, eid: str, attrs: dict[str, Any], ctx: CompiledContext
    ) -> dict[str, list[dict[str, Any]]]:
        """Each attribute's instances (an array, or one instance) checked as attributes are
        (4.5), names expanded. ``urn:ngsi-ld:null`` is an instance value, not an attribute."""
        compact: dict[str, list[dict[str, Any]]] = {}
        for name, raw in attrs.items():
            items = raw if isinstance(raw, list) else [raw]
            if not items:
                raise BadRequestData(f"Attribute {name} of entity {eid} has no instance")
            for item in items:
                if not isinstance(item, dict):
                    raise BadRequestData(
                        f"Attribute {name} of entity {eid}: each instance must be a JSON "
                        "object in the temporal representation"
                    )
            compact[name] = [instance_from(eid, name, item) for item in items]
        expanded = expand_entity_keys(compact, ctx)
        out: dict[str, list[dict[str, Any]]] = {}
        for name in compact:
            expand_name(ctx, name)  # a keyword or a name without IRI is refused
        for iri, value in expanded.items():
            out[iri] = value if isinstance(value, list) else [value]
        return out

    def _parse(self, body: Any, ctx: CompiledContext, *, context_in_body: bool) -> Written:
        if isinstance(body, dict) and not {k for k in body if k != "@context"}:
            raise InvalidRequest("The temporal representation of an entity is empty")
        entity = parse_entity(body, context_in_body=context_in_body)
        types = list(dict.fromkeys(expand_name(ctx, t) for t in entity.types))
        scopes = parse_scopes(body.get("scope"))
        return Written(entity.id, types, scopes, self._written(entity.id, entity.attrs, ctx))

    # --- provision -------------------------------------------------------------------------
    async def upsert(
        self, tenant: str, body: Any, ctx: CompiledContext, *, context_in_body: bool
    ) -> bool:
        """Create or Update Temporal Representation of an Entity (5.6.11): the instances are
        added; types are added to those known. True when the entity was created."""
        w = self._parse(body, ctx, context_in_body=context_in_body)
        now = _now()
        check = await self.entities.checker(tenant)
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            await repository.history_off(conn)
            known = await repository.get_entity(conn, tenant, w.eid, for_update=True)
            types = list(dict.fromkeys([*(known.types if known else []), *w.types]))
            scopes = w.scopes if w.scopes is not None else (known.scopes if known else None)
            key = await repository.save_entity(conn, tenant, w.eid, types, scopes, now)
            instances = w.instances
            if w.scopes is not None and w.scopes != (known.scopes if known else None):
                scope = {"type": "Property", "value": w.scopes}  # its history (4.18)
                instances = {**instances, SCOPE: [scope]}
            await self._record(conn, key, instances, now)
            await self._keep_current(conn, tenant, w.eid, types, scopes, w.instances, now, check)
            await uow.commit()
        return known is None or known.deleted_at is not None

    async def append(self, tenant: str, eid: str, body: Any, ctx: CompiledContext) -> None:
        """Add Attributes to Temporal Representation of an Entity (5.6.12)."""
        _check_id(eid)
        if not isinstance(body, dict):
            raise BadRequestData("The attributes must come as a JSON object")
        attrs = {k: v for k, v in body.items() if k not in ("@context", "id", "type", "scope")}
        if not attrs:
            raise InvalidRequest("The request holds no attribute")
        for name in attrs:
            _check_name(name)
        instances = self._written(eid, attrs, ctx)
        now = _now()
        check = await self.entities.checker(tenant)
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            await repository.history_off(conn)
            known = await repository.get_entity(conn, tenant, eid, for_update=True)
            if known is None:
                raise NotFound(f"Entity {eid} does not exist")
            await repository.save_entity(conn, tenant, eid, known.types, known.scopes, now)
            await self._record(conn, known.key, instances, now)
            await self._keep_current(
                conn, tenant, eid, known.types, known.scopes, instances, now, check
            )
            await uow.commit()

    async def _record(
        self,
        conn: Any,
        key: int,
        instances: dict[str, list[dict[str, Any]]],
        now: datetime,
    ) -> None:
        rows: list[InstanceRow] = []  # createdAt and modifiedAt are columns: ``now``
        for iri, items in instances.items():
            for inst in items:
                observed = (
                    parse_datetime(inst["observedAt"], "observedAt")
                    if "observedAt" in inst
                    else None
                )
                deleted = (observed or now) if is_deletion(inst) else None
                rows.append(InstanceRow(iri, inst, observed or now, observed, deleted))
        await repository.insert_instances(conn, key, rows, now)

    async def _keep_current(
        self,
        conn: Any,
        tenant: str,
        eid: str,
        types: list[str],
        scopes: list[str] | None,
        instances: dict[str, list[dict[str, Any]]],
        now: datetime,
        check: Checker,
    ) -> None:
        """The current state after a temporal write: per attribute and datasetId, the most
        recent instance written replaces the current one unless that one is more recent.
        MIM2: that current state is what is checked against the entity's data model."""
        e = await entity_repository.get(conn, tenant, eid, for_update=True)
        fresh = e is None
        if e is None:
            e = StoredEntity(eid, types, {}, scopes, now, now)
        else:
            e.types, e.scopes, e.modified_at = types, scopes, now
        stamp_ = iso(now)
        for iri, items in instances.items():
            by_ds = {i.get("datasetId"): i for i in as_list(e.attrs[iri])} if iri in e.attrs else {}
            for inst in sorted(items, key=_observed):
                ds = inst.get("datasetId")
                current = by_ds.get(ds)
                if current is not None and _observed(current) > _observed(inst):
                    continue
                if is_deletion(inst):
                    by_ds.pop(ds, None)
                else:
                    by_ds[ds] = stamp(dict(inst), stamp_)
            if by_ds:
                e.attrs[iri] = stored(list(by_ds.values()))
            else:
                e.attrs.pop(iri, None)
        check(e)
        if fresh:
            await entity_repository.insert(conn, tenant, e)
        else:
            await entity_repository.save(conn, tenant, e)

    async def delete(self, tenant: str, eid: str) -> None:
        """Delete Temporal Representation of an Entity (5.6.16): its history and its current
        state."""
        _check_id(eid)
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            await repository.history_off(conn)
            had_history = await repository.delete_entity(conn, tenant, eid)
            had_current = await entity_repository.delete(conn, tenant, eid)
            if not (had_history or had_current):
                raise NotFound(f"Entity {eid} does not exist")
            await uow.commit()

    async def delete_attribute(
        self,
        tenant: str,
        eid: str,
        name: str,
        ctx: CompiledContext,
        *,
        dataset_id: str | None,
        delete_all: bool,
    ) -> None:
        """Delete Attribute from Temporal Representation of an Entity (5.6.13): its
        instances (of the default instance, one datasetId, or all), in the current state too."""
        _check_id(eid)
        _check_name(name)
        if dataset_id is not None and not is_uri(dataset_id):
            raise BadRequestData(f"The datasetId {dataset_id[:200]!r} is not a URI")
        iri = expand_name(ctx, name)
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            await repository.history_off(conn)
            known = await repository.get_entity(conn, tenant, eid)
            if known is None:
                raise NotFound(f"Entity {eid} does not exist")
            gone = await repository.delete_attribute(conn, known.key, iri, dataset_id, delete_all)
            if not gone:
                raise NotFound(f"Entity {eid} has no attribute {name} to delete")
            e = await entity_repository.get(conn, tenant, eid, for_update=True)
            if e is not None and iri in e.attrs:
                keep = (
                    []
                    if delete_all
                    else [i for i in as_list(e.attrs[iri]) if i.get("datasetId") != dataset_id]
                )
                if keep:
                    e.attrs[iri] = stored(keep)
                else:
                    del e.attrs[iri]
                e.modified_at = _now()
                await entity_repository.save(conn, tenant, e)
            await uow.commit()

    async def modify_instance(
        self,
        tenant: str,
        eid: str,
        name: str,
        instance_id: str,
        body: Any,
        ctx: CompiledContext,
    ) -> None:
        """Partial Update Attribute instance (5.6.14): the members given replace those of the
        instance; it keeps its instanceId."""
        _check_id(eid)
        _check_name(name)
        ref = _instance_ref(instance_id)
        if not isinstance(body, dict):
            raise BadRequestData("The attribute instance must be a JSON object")
        fragment = body.get(name, body)
        if isinstance(fragment, list):
            if len(fragment) != 1:
                raise BadRequestData("Exactly one attribute instance can be modified")
            fragment = fragment[0]
        if not isinstance(fragment, dict):
            raise BadRequestData("The attribute instance must be a JSON object")
        fragment = {k: v for k, v in fragment.items() if k != "@context"}
        if not fragment:
            raise BadRequestData("The attribute instance is empty")
        iri = expand_name(ctx, name)
        now = _now()
        async with self.db.unit_of_work() as uow:
            conn = uow.connection
            await repository.history_off(conn)
            known = await repository.get_entity(conn, tenant, eid)
            found = (
                None if known is None else await repository.get_instance(conn, known.key, iri, ref)
            )
            if known is None or found is None:
                raise NotFound(f"Attribute {name} of entity {eid} has no instance {instance_id}")
            current, created_at = found
            compacted = compact_entity_keys({name: current}, ctx).get(name, current)
            merged = {**compacted, **fragment}
            checked = instance_from(eid, name, merged)
            inst = expand_entity_keys({name: checked}, ctx)[iri]
            inst = stamp(dict(inst), iso(now), current.get("createdAt") or iso(created_at))
            observed = (
                parse_datetime(inst["observedAt"], "observedAt") if "observedAt" in inst else None
            )
            await repository.replace_instance(conn, known.key, iri, ref, inst, observed, now)
            await uow.commit()

    async def delete_instance(
        self, tenant: str, eid: str, name: str, instance_id: str, ctx: CompiledContext
    ) -> None:
        """Delete Attribute instance from Temporal Representation of an Entity (5.6.15)."""
        _check_id(eid)
        _check_name(name)
        ref = _instance_ref(instance_id)
        iri = expand_name(ctx, name)
        async with self.db.unit_of_work() as uow:
            if not await repository.delete_instance(uow.connection, tenant, eid, iri, ref):
                raise NotFound(f"Attribute {name} of entity {eid} has no instance {instance_id}")
            await uow.commit()

    # --- consumption -----------------------------------------------------------------------
    async def retrieve(
        self,
        tenant: str,
        eid: str,
        ctx: CompiledContext,
        view: TemporalView,
        query: TemporalQuery,
    ) -> tuple[dict[str, Any], Page]:
        """Retrieve Temporal Evolution of an Entity (5.7.3)."""
        _check_id(eid)
        # An aggregation sets work_mem for its own transaction.
        async with self.db.unit_of_work(transaction=view.fmt == "aggregatedValues") as uow:
            known = await repository.get_entity(uow.connection, tenant, eid)
            if known is None:
                raise NotFound(f"Entity {eid} does not exist")
            refuse_hidden(tenant, known.types, view.visible)
            out, page = await self._evolutions(
                uow.connection, [known], ctx, view, query, single=True
            )
        entity = out[0]
        if view.attrs is not None and not entity.keys() - {"id", "type", "scope"}:
            raise NotFound(f"Entity {eid} has none of the attributes asked for")
        if not entity:
            raise NotFound(f"Entity {eid} has nothing left after pick and omit")
        return entity, page

    async def query(
        self,
        tenant: str,
        ctx: CompiledContext,
        view: TemporalView,
        query: TemporalQuery,
        *,
        ids: list[str] | None,
        id_pattern: str | None,
        types: list[str] | None,
        type_expr: str | None,
        attrs: list[str] | None,
        q: str | None,
        scope_q: str | None,
        geo: GeoParams | None,
        offset: int,
        limit: int,
        count: bool,
        everything: bool = False,
        descending: bool = False,
    ) -> tuple[list[dict[str, Any]], int | None, Page]:
        """Query Temporal Evolution of Entities (5.7.4): the entities Query Entities would
        select (5.7.2, same filters), in id order (``descending``: the reverse), each with
        its temporal evolution."""

        async def select(offset: int, limit: int, count: bool) -> tuple[list[str], int | None]:
            found, total = await self.entities.query(
                tenant,
                ctx,
                View(fmt="simplified", pick=frozenset({"id"}), visible=view.visible),
                ids=ids,
                id_pattern=id_pattern,
                types=types,
                type_expr=type_expr,
                attrs=attrs,
                q=q,
                scope_q=scope_q,
                geo=geo,
                offset=offset,
                limit=limit,
                count=count,
                everything=everything,
            )
            return [e["id"] for e in found], total

        if descending:
            # The page counted from the end of the id order, then reversed.
            _, total = await select(0, 0, True)
            assert total is not None
            end = max(0, total - offset)
            wanted, _ = await select(max(0, end - limit), min(limit, end), False)
            wanted.reverse()
            total = total if count else None
        else:
            wanted, total = await select(offset, limit, count)
        async with self.db.unit_of_work(transaction=view.fmt == "aggregatedValues") as uow:
            known = await repository.get_entities(uow.connection, tenant, wanted)
            rows = [known[i] for i in wanted if i in known]
            out, page = await self._evolutions(uow.connection, rows, ctx, view, query)
        return out, total, page

    async def _evolutions(
        self,
        conn: Any,
        entities: list[repository.TemporalEntityRow],
        ctx: CompiledContext,
        view: TemporalView,
        query: TemporalQuery,
        *,
        single: bool = False,
    ) -> tuple[list[dict[str, Any]], Page]:
        if not entities:
            return [], Page(False)
        sel = Selection({e.key: e.id for e in entities}, view.attrs, view.dataset_ids, query)
        if view.fmt == "aggregatedValues":
            buckets = await repository.aggregate(
                conn, sel, list(view.aggr_methods), view.aggr_period
            )
            present = {b.entity_id for b in buckets}
            return [
                self._aggregated(e, buckets, ctx, view)
                for e in entities
                if single or e.id in present
            ], Page(False)
        instances, pairs = await repository.read(conn, sel, self.page_limit)
        series: dict[tuple[str, str], list[tuple[datetime, Any]]] = {p: [] for p in sorted(pairs)}
        for inst in instances:
            series[(inst.entity_id, inst.attr)].append((inst.moment, inst))
        present = {eid for eid, _ in pairs}
        series, page = paginate(series, self.page_limit, query)
        outs: list[dict[str, Any]] = []
        for e in entities:
            if e.id not in present and not single:
                continue  # a query answers the entities with history in the range (5.7.4)
            mine = {attr: items for (eid, attr), items in series.items() if eid == e.id}
            outs.append(self._render(e, mine, ctx, view))
        return outs, page

    def _header(self, e: repository.TemporalEntityRow, view: TemporalView) -> dict[str, Any]:
        head: dict[str, Any] = {"id": e.id, "type": e.types if len(e.types) > 1 else e.types[0]}
        if e.scopes:
            head["scope"] = e.scopes if len(e.scopes) > 1 else e.scopes[0]
        if view.sys_attrs:
            head["createdAt"] = iso(e.created_at)
            head["modifiedAt"] = iso(e.modified_at)
            if e.deleted_at is not None:
                head["deletedAt"] = iso(e.deleted_at)
        return head

    def _render(
        self,
        e: repository.TemporalEntityRow,
        series: dict[str, list[tuple[datetime, StoredInstance]]],
        ctx: CompiledContext,
        view: TemporalView,
    ) -> dict[str, Any]:
        expanded = self._header(e, view)
        if SCOPE in series:  # the scope's history stands for the scope
            expanded.pop("scope", None)
        moments: dict[str, list[str]] = {}
        for iri, items in series.items():
            expanded[iri] = [_shown(inst) for _, inst in items]
            moments[ctx.compact(iri)] = [iso(t) for t, _ in items]
        compacted = compact_entity_keys(expanded, ctx)
        if view.lang is not None:
            compacted = apply_language(compacted, view.lang)
        out: dict[str, Any] = {}
        for key, value in compacted.items():
            if key not in moments:
                out[key] = value
            elif view.fmt == "temporalValues":
                out[key] = simplified_attribute(list(zip(moments[key], value, strict=False)))
            else:
                out[key] = [strip_instance(i, view.sys_attrs) for i in value]
        return _project(out, view)

    def _aggregated(
        self,
        e: repository.TemporalEntityRow,
        buckets: list[repository.Bucket],
        ctx: CompiledContext,
        view: TemporalView,
    ) -> dict[str, Any]:
        out = compact_entity_keys(self._header(e, view), ctx)
        per_attr: dict[str, list[repository.Bucket]] = {}
        for b in buckets:
            if b.entity_id == e.id:
                per_attr.setdefault(b.attr, []).append(b)
        for iri, items in per_attr.items():
            if iri == SCOPE:
                continue  # scopes are not aggregated
            out[ctx.compact(iri)] = aggregated_attribute(
                items[0].kind,
                [(b.dataset_id, iso(b.start), iso(b.end), b.results) for b in items],
                list(view.aggr_methods),
            )
        return _project(out, view)


def _project(out: dict[str, Any], view: TemporalView) -> dict[str, Any]:
    if view.pick is not None:
        out = {k: v for k, v in out.items() if k in view.pick}
    if view.omit is not None:
        out = {k: v for k, v in out.items() if k not in view.omit}
    return out


def _shown(inst: StoredInstance) -> dict[str, Any]:
    """A stored instance as the temporal representation shows it: with its instanceId and
    system times from the history columns."""
    out = {k: v for k, v in inst.inst.items() if k not in ("createdAt", "modifiedAt", "deletedAt")}
    out["instanceId"] = INSTANCE_PREFIX + inst.instance_id
    if inst.deleted_at is not None:
        out["deletedAt"] = iso(inst.deleted_at)
    else:
        out["createdAt"] = iso(inst.created_at)
        out["modifiedAt"] = iso(inst.modified_at)
    return out


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _observed(inst: dict[str, Any]) -> datetime:
    """Sort key of an instance in time: its observedAt, else the earliest time."""
    raw = inst.get("observedAt")
    if not isinstance(raw, str):
        return _EARLIEST
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return _EARLIEST
