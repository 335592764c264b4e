"""Entity use cases (ETSI GS CIM 009 V1.8.1, clauses 5.6 and 5.7).

Every write is checked whole before anything is stored; a write of several statements runs
in one transaction, so that a failure leaves nothing behind. Names arrive compacted in the
request's @context and are stored expanded; reads compact them in the reader's @context.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from context_broker.datamodels.service import NO_CHECK, Checker, ConformanceService
from context_broker.entities import link_repository, links, repository
from context_broker.entities.indexed import Keyed, keyed_term
from context_broker.entities.repository import Filter, KeyedFilter, StoredEntity
from context_broker.ngsild import history
from context_broker.ngsild.attributes import (
    INSTANCE_MEMBERS,
    as_list,
    instances_from,
    stamp,
    stored,
)
from context_broker.ngsild.entity import CORE_MEMBERS, parse_entity
from context_broker.ngsild.geo import LOCATION, GeoQuery, matches, parse_geo_query, query_box
from context_broker.ngsild.ids import is_uri, is_valid_name
from context_broker.ngsild.jsonld import CompiledContext, compact_entity_keys
from context_broker.ngsild.query import parse_q, q_to_jsonpath, reads_stamps
from context_broker.ngsild.representation import Format, ProjectionTree, apply_language, render
from context_broker.ngsild.selectors import Atom, is_scope_pattern, map_atoms, parse_selector
from context_broker.ngsild.visibility import refuse_hidden, visible
from mims_shared.db import LOST, Database, Lost, optimistic
from mims_shared.errors import AlreadyExists, BadRequestData, NotFound

MAX_PAGE = 1000
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=4)  # the entities of a batch share their time
def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_id(eid: str) -> None:
    if not is_uri(eid):
        raise BadRequestData(f"The entity id {eid[:200]!r} is not a URI")


#: Names an attribute may not have (they are members of the entity itself).
RESERVED_NAMES = CORE_MEMBERS


def _check_name(name: str) -> None:
    if not is_valid_name(name) or name in RESERVED_NAMES:
        raise BadRequestData(f"The attribute name {name[:200]!r} is not valid")


def expand_name(ctx: CompiledContext, name: str) -> str:
    """A name expanded by the context; a name that expands to a JSON-LD keyword (such as
    ``type``) or to something that is not an absolute IRI cannot name a type or attribute."""
    iri = ctx.expand(name)
    if iri.startswith("@") or ":" not in iri:
        raise BadRequestData(
            f"The name {name[:200]!r} does not expand to an IRI in the "
            "@context (it may be a JSON-LD keyword)"
        )
    return iri


NULL = "urn:ngsi-ld:null"


def is_deletion(raw: Any) -> bool:
    """An instance written only to delete (5.5.? "urn:ngsi-ld:null" as its value)."""
    if raw == NULL:
        return True
    if not isinstance(raw, dict):
        return False
    for member in ("value", "object", "vocab", "json", "valueList", "objectList"):
        if raw.get(member) == NULL or raw.get(member) == [NULL]:
            return True
    lm = raw.get("languageMap")
    return isinstance(lm, dict) and lm.get("@none") == NULL


def split_deletions(raw: Any) -> tuple[Any, set[str | None]]:
    """The instances of an attribute as written, minus the deletion markers, and the
    datasetIds those markers delete (None: the default instance)."""
    items = raw if isinstance(raw, list) else [raw]
    keep = [i for i in items if not is_deletion(i)]
    gone = {i.get("datasetId") if isinstance(i, dict) else None for i in items if is_deletion(i)}
    if not keep:
        return None, gone
    return (keep if isinstance(raw, list) else keep[0]), gone


@dataclass(frozen=True, slots=True)
class View:
    """How the reader wants entities: representation, system attributes, projection."""

    fmt: Format = "normalized"
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # expanded attribute IRIs to keep
    pick: frozenset[str] | None = None  # compacted names (and id, type) to keep
    omit: frozenset[str] | None = None  # compacted names (and id, type) to drop
    lang: str | None = None  # LanguageProperties in this language (4.15)
    #: Only these instances of each attribute; None stands for the default instance.
    dataset_ids: frozenset[str | None] | None = None
    #: The entity type names the reader may see (ngsild/visibility.py); None: all.
    visible: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class GeoParams:
    """A geo-query as the request wrote it (4.10; 5.7.2): ``coordinates`` is JSON text (query
    string) or a decoded array (geoQ); ``geoproperty`` is compacted (default location)."""

    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> GeoParams:
        """The geo-query of a query string (6.4.3.2 and 6.18.3.2 share its parameters)."""
        return cls(
            params.get("georel"),
            params.get("geometry"),
            params.get("coordinates"),
            params.get("geoproperty"),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a partial write did: the attributes updated and those that were not."""

    updated: list[str]
    not_updated: list[tuple[str, str]]


class EntityService:
    def __init__(
        self,
        db: Database,
        conformance: ConformanceService | None = None,
        *,
        indexed: Iterable[str] = (),
    ) -> None:
        self.db = db
        self.conformance = conformance
        #: Whether the update of one entity records its history in its own statement
        #: (ngsild/history.py, repository.save_if): set by the temporal service once it
        #: knows that the database records history (its triggers enabled).
        self.tell_history = False
        #: The declared attributes (BROKER_INDEXED_ATTRIBUTES), whose indexes the app made
        #: sure of at start-up (entities/indexed.py).
        self.keyed = {iri: Keyed.of(iri) for iri in indexed}

    async def checker(self, tenant: str) -> Checker:
        """MIM2: the check of entities about to be stored (datamodels/service.py)."""
        if self.conformance is None:
            return NO_CHECK
        return await self.conformance.checker(tenant)

    # --- shaping -------------------------------------------------------------------------
    def _expand_attrs(
        self,
        eid: str,
        attrs: dict[str, Any],
        ctx: CompiledContext,
        now: str,
        *,
        implicit: bool = False,
    ) -> dict[str, Any]:
        """The attributes of a body checked, expanded and stamped with ``now``; with
        ``implicit`` (a whole write), instances without sub-attributes are left without
        their stamps, which the entity's ``stamped`` then gives (ngsild/attributes.py)."""
        out: dict[str, Any] = {}

        def finish(inst: dict[str, Any]) -> dict[str, Any]:  # sub-attributes or vocab
            return self._expand_instance(inst, ctx)

        for name, raw in attrs.items():
            iri = expand_name(ctx, name)
            if iri in out:
                raise BadRequestData(f"Entity {eid} names attribute {name} twice")
            out[iri] = stored(
                instances_from(eid, name, raw, now=now, implicit=implicit, finish=finish)
            )
        return out

    def _expand_instance(self, inst: dict[str, Any], ctx: CompiledContext) -> dict[str, Any]:
        # ``inst`` is the caller's own (instances_from made it): kept as it is when there is
        # nothing to expand.
        if "vocab" not in inst and inst.keys() <= INSTANCE_MEMBERS:
            return inst
        out: dict[str, Any] = {}
        for key, value in inst.items():
            if key == "vocab":
                # A VocabProperty's is checked (a term or a list of terms); another kind may
                # carry a "vocab" of any shape: only its terms are expanded, as compaction
                # does (ngsild/jsonld.py _names).
                if isinstance(value, str):
                    out[key] = ctx.expand_vocab_value(value)
                elif isinstance(value, list):
                    out[key] = [
                        ctx.expand_vocab_value(v) if isinstance(v, str) else v for v in value
                    ]
                else:
                    out[key] = value
            elif key in INSTANCE_MEMBERS:
                out[key] = value
            else:  # a sub-attribute, already checked by instances_from
                out[expand_name(ctx, key)] = self._expand_instance(value, ctx)
        return out

    def build(
        self,
        body: Any,
        ctx: CompiledContext,
        *,
        context_in_body: bool,
        now: datetime,
        implicit: bool = True,
    ) -> StoredEntity:
        """The entity a Create Entity body describes, checked whole and expanded; with
        ``implicit``, to be stored as it is (a whole write: its instances' stamps are left to
        the entity's ``stamped``), else with every stamp (to be merged into a stored one).
        Also the building block of the batch operations (batch/service.py)."""
        entity = parse_entity(body, context_in_body=context_in_body)
        stamp_ = _iso(now)
        types = list(dict.fromkeys(expand_name(ctx, t) for t in entity.types))
        attrs = self._expand_attrs(entity.id, entity.attrs, ctx, stamp_, implicit=implicit)
        scopes = parse_scopes(body.get("scope"))
        return StoredEntity(entity.id, types, attrs, scopes, now, now, stamp_ if implicit else None)

    def _view(self, e: StoredEntity, ctx: CompiledContext, view: View) -> dict[str, Any]:
        attrs = e.attrs
        if view.attrs is not None:
            attrs = {k: v for k, v in attrs.items() if k in view.attrs}
        if view.dataset_ids is not None:
            attrs = _only_datasets(attrs, view.dataset_ids)
        expanded: dict[str, Any] = {"id": e.id, "type": e.types if len(e.types) > 1 else e.types[0]}
        if e.scopes:
            expanded["scope"] = e.scopes if len(e.scopes) > 1 else e.scopes[0]
        expanded.update(attrs)
        if view.sys_attrs:
            expanded["createdAt"] = _iso(e.created_at)
            expanded["modifiedAt"] = _iso(e.modified_at)
        compacted = compact_entity_keys(expanded, ctx)
        if view.lang is not None:
            compacted = apply_language(compacted, view.lang)
        out = render(compacted, view.fmt, view.sys_attrs)
        if view.pick is not None:
            out = {k: v for k, v in out.items() if k in view.pick}
        if view.omit is not None:
            out = {k: v for k, v in out.items() if k not in view.omit}
        return out

    # --- provision -----------------------------------------------------------------------
    async def create(
        self, tenant: str, body: Any, ctx: CompiledContext, *, context_in_body: bool
    ) -> str:
        """Create Entity (5.6.1): stored whole, or not at all."""
        check = await self.checker(tenant)
        e = self.build(body, ctx, context_in_body=context_in_body, now=_now())
        check(e)
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.insert(uow.connection, tenant, e):
                raise AlreadyExists(f"Entity {e.id} already exists")
        return e.id

    async def delete(self, tenant: str, eid: str) -> None:
        """Delete Entity (5.6.6)."""
        _check_id(eid)
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.delete(uow.connection, tenant, eid):
                raise NotFound(f"Entity {eid} does not exist")

    async def _modify(self, tenant: str, eid: str, change: Callable[[StoredEntity], T]) -> T:
        """Run ``change(entity)`` on the stored entity and save it, all or nothing.

        Optimistically (:func:`mims_shared.db.optimistic`): read the entity with its row
        version, change it, and store it in one statement only if no other write came in
        between (two round trips, no BEGIN/COMMIT); after lost races, under a row lock.
        ``change`` runs again on each attempt, on the entity as it then is."""
        _check_id(eid)
        check = await self.checker(tenant)

        async def attempt(conn: Any, locked: bool) -> T | Lost:
            found = await repository.get_versioned(conn, tenant, eid, for_update=locked)
            if found is None:
                raise NotFound(f"Entity {eid} does not exist")
            e, version = found
            # A shallow copy is enough: every ``change`` replaces an attribute's value and
            # never edits a stored instance in place (_set, _apply, the partial update), so
            # the attributes it leaves alone stay the same objects and history.changes
            # passes them by identity instead of comparing them.
            before = dict(e.attrs) if self.tell_history else None
            types = list(e.types)
            scopes = None if e.scopes is None else list(e.scopes)
            result = change(e)
            check(e)
            e.modified_at = _now()
            told = None
            if before is not None and e.types == types and e.scopes == scopes:
                told = history.told(before, e.attrs)  # else the trigger finds the changes
            return result if await repository.save_if(conn, tenant, e, version, told) else LOST

        return await optimistic(self.db, attempt)

    def _written(
        self, eid: str, body: dict[str, Any], ctx: CompiledContext, now: str
    ) -> dict[str, tuple[Any, set[str | None]]]:
        """The attributes of a write: IRI -> (stored instances or None, datasetIds to delete)."""
        out: dict[str, tuple[Any, set[str | None]]] = {}
        for name, raw in _attrs_of(eid, body).items():
            keep, gone = split_deletions(raw)
            iri = expand_name(ctx, name)
            value = None
            if keep is not None:
                value = self._expand_attrs(eid, {name: keep}, ctx, now)[iri]
            out[iri] = (value, gone)
        return out

    def _entity_members(
        self, e: StoredEntity, body: dict[str, Any], ctx: CompiledContext, *, replace_scope: bool
    ) -> None:
        """Types in a write are added; a scope is added (append) or replaces (update)."""
        if "type" in body:
            added = [expand_name(ctx, t) for t in _types(body["type"])]
            e.types = list(dict.fromkeys([*e.types, *added]))
        if "scope" in body:
            scopes = parse_scopes(body["scope"]) or []
            e.scopes = (
                scopes if replace_scope else list(dict.fromkeys([*(e.scopes or []), *scopes]))
            )

    async def append_attrs(
        self, tenant: str, eid: str, body: Any, ctx: CompiledContext, *, no_overwrite: bool
    ) -> Outcome:
        """Append Entity Attributes (5.6.3): new attributes and instances are added; with
        ``noOverwrite`` an instance (same datasetId) already there is kept."""
        _check_body(body)
        written = self._written(eid, body, ctx, _iso(_now()))

        def change(e: StoredEntity) -> Outcome:
            updated, not_updated = [], []
            for iri, (value, gone) in written.items():
                old = e.attrs.get(iri)
                if no_overwrite and old is not None and value is not None:
                    have = {i.get("datasetId") for i in as_list(old)}
                    fresh = [i for i in as_list(value) if i.get("datasetId") not in have]
                    if not fresh:
                        not_updated.append((iri, "the attribute exists (noOverwrite)"))
                        continue
                    value = stored(fresh)
                merged = _apply(old, value, gone, merge_members=False)
                _set(e, iri, merged)
                updated.append(iri)
            # The scope is overwritten like an attribute, or added to with noOverwrite.
            self._entity_members(e, body, ctx, replace_scope=not no_overwrite)
            return Outcome(updated, not_updated)

        return await self._modify(tenant, eid, change)

    async def update_attrs(self, tenant: str, eid: str, body: Any, ctx: CompiledContext) -> Outcome:
        """Update Entity Attributes (5.6.2): attributes that exist are replaced instance by
        instance (by datasetId); attributes that do not exist are reported, not added."""
        _check_body(body)
        written = self._written(eid, body, ctx, _iso(_now()))

        def change(e: StoredEntity) -> Outcome:
            updated, not_updated = [], []
            for iri, (value, gone) in written.items():
                if iri not in e.attrs:
                    not_updated.append((iri, "the attribute does not exist"))
                    continue
                _set(e, iri, _apply(e.attrs[iri], value, gone, merge_members=False))
                updated.append(iri)
            if "scope" in body and not e.scopes:
                # Like an attribute, a scope the entity does not have is not added by Update.
                not_updated.append(("scope", "the entity has no scope"))
                body_rest = {k: v for k, v in body.items() if k != "scope"}
                self._entity_members(e, body_rest, ctx, replace_scope=True)
            else:
                self._entity_members(e, body, ctx, replace_scope=True)
            return Outcome(updated, not_updated)

        return await self._modify(tenant, eid, change)

    async def partial_update_attr(
        self, tenant: str, eid: str, name: str, body: Any, ctx: CompiledContext
    ) -> None:
        """Partial Attribute update (5.6.4): members given replace those stored, in the
        instance of the same datasetId; ``urn:ngsi-ld:null`` deletes that instance."""
        _check_name(name)
        if not isinstance(body, dict) or not {k for k in body if k != "@context"}:
            raise BadRequestData("A partial attribute update must be a non-empty JSON object")
        body = {k: v for k, v in body.items() if k != "@context"}
        iri = expand_name(ctx, name)
        now = _iso(_now())

        def change(e: StoredEntity) -> None:
            if iri not in e.attrs:
                raise NotFound(f"Entity {eid} has no attribute {name}")
            instances = as_list(e.attrs[iri])
            ds = body.get("datasetId")
            target = next((i for i in instances if i.get("datasetId") == ds), None)
            if target is None:
                which = f"with datasetId {ds}" if ds else "without datasetId"
                raise NotFound(f"Attribute {name} of entity {eid} has no instance {which}")
            if "type" in body and body["type"] != target["type"]:
                raise BadRequestData(
                    f"Attribute {name} of entity {eid} is a {target['type']}, not a "
                    f"{str(body['type'])[:40]}; a partial update cannot change its type"
                )
            if is_deletion(body):
                _set(e, iri, _apply(e.attrs[iri], None, {ds}, merge_members=False))
                return
            merged = {**self._compacted_instance(target, ctx), **body, "type": target["type"]}
            checked = self._expand_instance(
                stamp(instances_from(eid, name, merged)[0], now, target.get("createdAt")), ctx
            )
            e.attrs[iri] = stored([checked if i is target else i for i in instances])

        await self._modify(tenant, eid, change)

    def _compacted_instance(self, inst: dict[str, Any], ctx: CompiledContext) -> dict[str, Any]:
        """A stored instance with its sub-attribute names compacted again (to be re-checked)."""
        out: dict[str, Any] = {}
        for key, value in inst.items():
            if key in INSTANCE_MEMBERS:
                out[key] = value
            else:
                out[ctx.compact(key)] = self._compacted_instance(value, ctx)
        return out

    async def replace_attr(
        self, tenant: str, eid: str, name: str, body: Any, ctx: CompiledContext
    ) -> None:
        """Replace Attribute (5.6.19): the attribute (or the instance by datasetId) is
        replaced whole; it must exist."""
        _check_name(name)
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "@context"}
        iri = expand_name(ctx, name)
        new = self._expand_attrs(eid, {name: body}, ctx, _iso(_now()))[iri]

        def change(e: StoredEntity) -> None:
            if iri not in e.attrs:
                raise NotFound(f"Entity {eid} has no attribute {name}")
            e.attrs[iri] = _apply(e.attrs[iri], new, set(), merge_members=False)

        await self._modify(tenant, eid, change)

    async def delete_attr(
        self,
        tenant: str,
        eid: str,
        name: str,
        *,
        dataset_id: str | None,
        delete_all: bool,
        ctx: CompiledContext,
    ) -> None:
        """Delete Entity Attribute (5.6.5): the default instance, one ``datasetId`` or all;
        ``scope`` deletes the entity's scope."""
        if name == "scope":
            await self._modify(tenant, eid, _drop_scope)
            return
        _check_name(name)
        if dataset_id is not None and not is_uri(dataset_id):
            raise BadRequestData(f"The datasetId {dataset_id[:200]!r} is not a URI")
        iri = ctx.expand(name)

        def change(e: StoredEntity) -> None:
            if iri not in e.attrs:
                raise NotFound(f"Entity {eid} has no attribute {name}")
            if delete_all:
                del e.attrs[iri]
                return
            instances = as_list(e.attrs[iri])
            keep = [i for i in instances if i.get("datasetId") != dataset_id]
            if len(keep) == len(instances):
                which = f"with datasetId {dataset_id}" if dataset_id else "without datasetId"
                raise NotFound(f"Attribute {name} of entity {eid} has no instance {which}")
            if keep:
                e.attrs[iri] = stored(keep)
            else:
                del e.attrs[iri]

        await self._modify(tenant, eid, change)

    async def merge(self, tenant: str, eid: str, body: Any, ctx: CompiledContext) -> None:
        """Merge Entity (5.6.17): attributes given are added, or merged member by member into
        the instance of the same datasetId; ``urn:ngsi-ld:null`` deletes an instance."""
        if not isinstance(body, dict):
            raise BadRequestData("A merge must be a JSON object")
        if "id" in body and body["id"] != eid:
            raise BadRequestData(f"The body's id {str(body['id'])[:200]} is not {eid}")
        written = self._written(eid, body, ctx, _iso(_now()))

        def change(e: StoredEntity) -> None:
            for iri, (value, gone) in written.items():
                _set(e, iri, _apply(e.attrs.get(iri), value, gone, merge_members=True))
            self._entity_members(e, body, ctx, replace_scope=True)

        await self._modify(tenant, eid, change)

    async def replace(
        self, tenant: str, eid: str, body: Any, ctx: CompiledContext, *, context_in_body: bool
    ) -> None:
        """Replace Entity (5.6.18): everything but the id and creation time is replaced."""
        _check_id(eid)
        if isinstance(body, dict) and "id" not in body:
            body = {**body, "id": eid}
        new = self.build(body, ctx, context_in_body=context_in_body, now=_now())
        if new.id != eid:
            raise BadRequestData(f"The body's id {new.id} is not {eid}")

        def change(e: StoredEntity) -> None:
            e.types, e.attrs, e.scopes, e.stamped = new.types, new.attrs, new.scopes, new.stamped

        await self._modify(tenant, eid, change)

    # --- consumption ---------------------------------------------------------------------
    async def retrieve(
        self,
        tenant: str,
        eid: str,
        ctx: CompiledContext,
        view: View,
        join: links.Join | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]]:
        """Retrieve Entity (5.7.1)."""
        _check_id(eid)
        async with self.db.unit_of_work(transaction=False) as uow:
            e = await repository.get(uow.connection, tenant, eid)
        if e is None:
            raise NotFound(f"Entity {eid} does not exist")
        refuse_hidden(tenant, e.types, view.visible)
        if view.attrs is not None and not view.attrs & e.attrs.keys():
            raise NotFound(f"Entity {eid} has none of the attributes asked for")
        out = self._view(e, ctx, view)
        if not out:
            raise NotFound(f"Entity {eid} has nothing left after pick and omit")
        if join is None:
            return out
        extra = await self._join(tenant, [(e, out)], ctx, view, join)
        return [out, *extra] if join.mode == "flat" else out

    async def _join(
        self,
        tenant: str,
        roots: list[tuple[StoredEntity, dict[str, Any]]],
        ctx: CompiledContext,
        view: View,
        join: links.Join,
    ) -> list[dict[str, Any]]:
        """Linked Entity Retrieval (4.5.23): the linked entities in the reader's view."""

        def render(
            e: StoredEntity, pick: ProjectionTree | None, omit: ProjectionTree | None
        ) -> dict[str, Any]:
            shape = replace(
                view,
                attrs=None,
                dataset_ids=None,
                pick=frozenset(pick) if pick else None,
                omit=links.omitted(omit) if omit else None,
            )
            return self._view(e, ctx, shape)

        async with self.db.unit_of_work(transaction=False) as uow:

            async def fetch(ids: list[str]) -> dict[str, StoredEntity]:
                found = await link_repository.get_many(uow.connection, tenant, ids)
                if view.visible is None:
                    return found
                # Linked entities the reader may not see are left out, as if absent.
                return {i: e for i, e in found.items() if visible(e.types, view.visible)}

            return await links.join_entities(roots, join, view.fmt, fetch, render, ctx.compact)

    def _filter(
        self,
        tenant: str,
        ctx: CompiledContext,
        *,
        ids: list[str] | None,
        id_pattern: str | None,
        types: list[str] | None,
        attrs: list[str] | None,
        q: str | None,
        type_expr: str | None = None,
        scope_q: str | None = None,
        visible: frozenset[str] | None = None,
    ) -> Filter:
        for eid in ids or []:
            _check_id(eid)
        for name in [*(types or []), *(attrs or [])]:
            if not is_valid_name(name):
                raise BadRequestData(f"{name[:200]!r} is not a valid type or attribute name")
        type_selector = None
        expanded_types = [expand_name(ctx, t) for t in types] if types else None
        if type_expr is not None:
            parsed = parse_selector(type_expr, "type", is_valid_name)
            type_selector = map_atoms(parsed, lambda t: expand_name(ctx, t))
            if isinstance(type_selector, Atom) and expanded_types is None:
                # One type (a Query body's one EntitySelector): the plans of one type apply.
                expanded_types, type_selector = [type_selector.text], None
        expr = parse_q(q) if q else None
        keyed = None
        term = keyed_term(expr, ctx.expand, self.keyed) if expr is not None else None
        if term is not None:
            rest = q_to_jsonpath(term.rest, ctx.expand) if term.rest is not None else None
            keyed = KeyedFilter(term.attr, term.values, rest)
        return Filter(
            tenant,
            ids=ids,
            id_pattern=id_pattern,
            types=expanded_types,
            any_attrs=[expand_name(ctx, a) for a in attrs] if attrs else None,
            q_path=q_to_jsonpath(expr, ctx.expand) if expr is not None else None,
            q_stamps=expr is not None and reads_stamps(expr),
            keyed=keyed,
            type_selector=type_selector,
            scope_selector=parse_selector(scope_q, "scopeQ", is_scope_pattern)
            if scope_q is not None
            else None,
            visible=visible,
        )

    async def purge(
        self,
        tenant: str,
        ctx: CompiledContext,
        *,
        ids: list[str] | None,
        id_pattern: str | None,
        types: list[str] | None,
        q: str | None,
        keep: list[str] | None,
        drop: list[str] | None,
        everything: bool = False,
    ) -> int:
        """Purge Entities (5.6.? of V1.8.1, DELETE /entities): the matching entities, or
        only some of their attributes (``drop``), or all but some (``keep``)."""
        if not everything and not any((ids, id_pattern, types, q)):
            raise BadRequestData("Purge Entities needs at least one of type, id, idPattern or q")
        if keep and drop:
            raise BadRequestData("keep and drop cannot be used together")
        f = self._filter(tenant, ctx, ids=ids, id_pattern=id_pattern, types=types, attrs=None, q=q)
        keep_iris = [expand_name(ctx, a) for a in keep] if keep else None
        drop_iris = [expand_name(ctx, a) for a in drop] if drop else None
        async with self.db.unit_of_work(transaction=False) as uow:
            return await repository.purge(uow.connection, f, keep=keep_iris, drop=drop_iris)

    async def query(
        self,
        tenant: str,
        ctx: CompiledContext,
        view: View,
        *,
        ids: list[str] | None,
        id_pattern: str | None,
        types: list[str] | None,
        attrs: list[str] | None,
        q: str | None,
        offset: int,
        limit: int,
        count: bool,
        everything: bool = False,
        type_expr: str | None = None,
        scope_q: str | None = None,
        geo: GeoParams | None = None,
        join: links.Join | None = None,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Query Entities (5.7.2). ``types`` is a plain list (any of); ``type_expr`` a type
        selector with ``;`` (all of) and parentheses (4.17); ``geo`` a geo-query (4.10)."""
        geo_query = _geo_query(ctx, geo) if geo is not None else None
        # id or idPattern alone do not make a query (5.7.2; ETSI test 019_03_05); local=true
        # alone asks for all local entities (ETSI test 019_25).
        if not everything and not any((types, attrs, q, type_expr, scope_q, geo_query)):
            raise BadRequestData(
                "Query Entities needs at least one of type, attrs, q, scopeQ or a geo-query"
            )
        if limit > MAX_PAGE:
            raise BadRequestData(f"limit may not exceed {MAX_PAGE}")
        f = self._filter(
            tenant,
            ctx,
            ids=ids,
            id_pattern=id_pattern,
            types=types,
            attrs=attrs,
            q=q,
            type_expr=type_expr,
            scope_q=scope_q,
            visible=view.visible,
        )
        if geo_query is None:
            async with self.db.unit_of_work(transaction=False) as uow:
                found, total = await repository.query(uow.connection, f, offset, limit, count)
        else:
            # The index box serves the default geoproperty only (entity.geo_box); any other
            # is evaluated on every candidate of the other filters.
            gq = geo_query
            box = query_box(gq) if gq.geoproperty == LOCATION else None

            def keep(attr: Any) -> bool:
                return matches(gq, attr)

            async with self.db.unit_of_work() as uow:
                found, total = await repository.query_geo(
                    uow.connection, f, gq.geoproperty, box, keep, offset, limit, count
                )
        shown = [(e, v) for e in found if (v := self._view(e, ctx, view))]
        outs = [v for _, v in shown]
        if join is not None:
            outs += await self._join(tenant, shown, ctx, view, join)  # none for inline
        return outs, total

    # --- building blocks of notifications (subscriptions/notifier.py) ---------------------
    def render(self, e: StoredEntity, ctx: CompiledContext, view: View) -> dict[str, Any]:
        """A stored entity as a reader with ``ctx`` and ``view`` sees it."""
        return self._view(e, ctx, view)

    async def join(
        self,
        tenant: str,
        roots: list[tuple[StoredEntity, dict[str, Any]]],
        ctx: CompiledContext,
        view: View,
        join: links.Join,
    ) -> list[dict[str, Any]]:
        """The entities ``roots`` link to, as Linked Entity Retrieval gives them (4.5.23)."""
        return await self._join(tenant, roots, ctx, view, join)

    # --- building blocks of the batch operations (batch/service.py): same behaviour ---------
    def written(
        self, eid: str, body: dict[str, Any], ctx: CompiledContext, now: str
    ) -> dict[str, tuple[Any, set[str | None]]]:
        """The attributes of an append or merge body, checked and expanded (see _written)."""
        return self._written(eid, body, ctx, now)

    def entity_members(
        self, e: StoredEntity, body: dict[str, Any], ctx: CompiledContext, *, replace_scope: bool
    ) -> None:
        """Apply the type and scope of an append or merge body to ``e``."""
        self._entity_members(e, body, ctx, replace_scope=replace_scope)


def _geo_query(ctx: CompiledContext, geo: GeoParams) -> GeoQuery | None:
    """The checked geo-query, its geoproperty expanded; None when none is asked."""
    parsed = parse_geo_query(geo.georel, geo.geometry, geo.coordinates)
    if parsed is None:
        if geo.geoproperty is not None:
            raise BadRequestData("geoproperty needs a geo-query: georel, geometry and coordinates")
        return None
    georel, geometry = parsed
    name = geo.geoproperty if geo.geoproperty is not None else "location"
    if not is_valid_name(name):
        raise BadRequestData(f"The geoproperty {name[:200]!r} is not a valid attribute name")
    return GeoQuery(georel, geometry, expand_name(ctx, name))


_CORE = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"})


def _types(raw: Any) -> list[str]:
    types = [raw] if isinstance(raw, str) else raw
    if not isinstance(types, list) or not types or not all(is_valid_name(t) for t in types):
        raise BadRequestData("The type is not a valid type name or list of names")
    return types


def parse_scopes(raw: Any) -> list[str] | None:
    """An entity's scope member (4.18): one path or a list of them, without repeats."""
    if raw is None:
        return None
    scopes = [raw] if isinstance(raw, str) else raw
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and s.startswith("/") and " " not in s for s in scopes
    ):
        raise BadRequestData("A scope must be a path such as /Madrid/Gardens or a list of them")
    return list(dict.fromkeys(scopes))


def _only_datasets(attrs: dict[str, Any], wanted: frozenset[str | None]) -> dict[str, Any]:
    """The attributes reduced to the instances whose datasetId is wanted (5.7.1 datasetId)."""
    out: dict[str, Any] = {}
    for iri, value in attrs.items():
        kept = [i for i in as_list(value) if i.get("datasetId") in wanted]
        if kept:
            out[iri] = stored(kept)
    return out


def _drop_scope(e: StoredEntity) -> None:
    if not e.scopes:
        raise NotFound(f"Entity {e.id} has no scope")
    e.scopes = None


def _check_body(body: Any) -> None:
    if not isinstance(body, dict):
        raise BadRequestData("The attributes must come as a JSON object")
    if not {k for k in body if k not in ("@context", "id")}:
        raise BadRequestData("The request holds no attribute")


def _attrs_of(eid: str, body: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: v for k, v in body.items() if k not in _CORE}
    for name in attrs:
        if not is_valid_name(name):
            raise BadRequestData(f"Entity {eid}: the attribute name {name[:200]!r} is not valid")
    return attrs


def _set(e: StoredEntity, iri: str, value: Any) -> None:
    if value is None:
        e.attrs.pop(iri, None)
    else:
        e.attrs[iri] = value


def _apply(old: Any, new: Any, gone: set[str | None], *, merge_members: bool) -> Any:
    """Stored instances after a write: instances with a datasetId in ``gone`` are deleted;
    each new instance replaces (or, with ``merge_members``, is merged into) the stored one
    with the same datasetId; others stay. None when nothing is left."""
    by_ds: dict[str | None, dict[str, Any]] = {
        i.get("datasetId"): i for i in (as_list(old) if old is not None else [])
    }
    for ds in gone:
        by_ds.pop(ds, None)
    for inst in as_list(new) if new is not None else []:
        ds = inst.get("datasetId")
        before = by_ds.get(ds)
        if before is not None:
            # A copy: a write may be applied again, to a newer entity (EntityService._modify).
            inst = {**inst, "createdAt": before.get("createdAt", inst.get("createdAt"))}
            if merge_members and before.get("type") == inst.get("type"):
                inst = {**before, **inst}
        by_ds[ds] = inst
    return stored(list(by_ds.values())) if by_ds else None


def apply_written(
    e: StoredEntity, iri: str, value: Any, gone: set[str | None], *, merge_members: bool
) -> None:
    """Apply one written attribute to ``e`` as append and merge do (batch operations)."""
    _set(e, iri, _apply(e.attrs.get(iri), value, gone, merge_members=merge_members))
