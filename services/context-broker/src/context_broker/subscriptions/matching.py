"""Which entity changes a subscription is notified of, and what it is sent (ETSI GS CIM 009
V1.8.1, 5.2.12 notificationTrigger, 5.8.1 and 5.11 Notification); pure.

A ``Live`` subscription is the stored one with every name expanded once, so that matching
a change is set and dictionary work only. The ``q`` filter is left to the database (the
same SQL/JSON path as Query Entities, so both agree by construction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from context_broker.entities.links import Join
from context_broker.entities.repository import StoredEntity
from context_broker.entities.service import View
from context_broker.ngsild.attributes import VALUE_MEMBER, as_list, stored
from context_broker.ngsild.geo import GeoQuery, matches
from context_broker.ngsild.jsonld import CompiledContext
from context_broker.ngsild.selectors import AllOf, AnyOf, Atom, Selector
from context_broker.ngsild.visibility import visible

NULL = "urn:ngsi-ld:null"
#: 5.2.? previous values (showChanges): the member of the instance's kind, "previous"-prefixed.
PREVIOUS = {
    "value": "previousValue",
    "object": "previousObject",
    "objectList": "previousObjectList",
    "languageMap": "previousLanguageMap",
    "vocab": "previousVocab",
    "json": "previousJson",
    "valueList": "previousValueList",
}


@dataclass(frozen=True, slots=True)
class EntitySelector:
    """5.2.33 EntitySelector with its type expression expanded."""

    types: Selector
    id: str | None = None
    id_pattern: re.Pattern[str] | None = None

    def selects(self, eid: str, types: list[str]) -> bool:
        if self.id is not None and eid != self.id:
            return False
        if self.id_pattern is not None and not self.id_pattern.search(eid):
            return False
        return holds(self.types, set(types))


def holds(sel: Selector, present: set[str]) -> bool:
    """A type selector (4.17) against the types an entity has."""
    if isinstance(sel, Atom):
        return sel.text in present
    if isinstance(sel, AnyOf):
        return any(holds(s, present) for s in sel.items)
    assert isinstance(sel, AllOf)
    return all(holds(s, present) for s in sel.items)


def scope_holds(sel: Selector, scopes: list[str]) -> bool:
    """A scopeQ (4.19) against an entity's scopes: ``/a/#`` a or below, ``/a/+`` one level."""
    if isinstance(sel, Atom):
        return any(_scope_matches(sel.text, s) for s in scopes)
    if isinstance(sel, AnyOf):
        return any(scope_holds(s, scopes) for s in sel.items)
    assert isinstance(sel, AllOf)
    return all(scope_holds(s, scopes) for s in sel.items)


def _scope_matches(pattern: str, scope: str) -> bool:
    if pattern == "/#":
        return True
    want = pattern.split("/")
    have = scope.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return len(have) >= i
        if i >= len(have) or (part != "+" and part != have[i]):
            return False
    return len(have) == len(want)


@dataclass(slots=True)
class Live:
    """A subscription ready to match: expanded names, parsed filters, how to render."""

    tenant: str
    id: str
    doc: dict[str, Any]
    ctx: CompiledContext  # the subscription's own @context: its names
    render_ctx: CompiledContext  # the @context of its notifications (jsonldContext)
    link_url: str
    context_value: Any
    selectors: tuple[EntitySelector, ...] | None
    watched: frozenset[str] | None
    triggers: frozenset[str]
    q_path: str | None
    geo: GeoQuery | None
    scope: Selector | None
    view: View
    show_changes: bool
    endpoint: dict[str, Any]
    join: Join | None
    throttling: float | None
    time_interval: float | None
    is_active: bool
    expires_at: datetime | None
    #: Changes made before the subscription was created or last updated are not its own.
    since: datetime | None = None
    #: When this process last sent (throttling); persisted as last_notification.
    last_sent: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the entity_change outbox."""

    seq: int
    tenant: str
    id: str
    op: str  # create | update | delete
    old: StoredEntity | None
    new: StoredEntity | None
    at: datetime

    @property
    def current(self) -> StoredEntity:
        entity = self.new if self.new is not None else self.old
        assert entity is not None
        return entity


def _by_dataset(value: Any) -> dict[str | None, dict[str, Any]]:
    return {i.get("datasetId"): i for i in as_list(value)} if value is not None else {}


@dataclass(frozen=True, slots=True)
class Diff:
    """What a change did, attribute by attribute (expanded names)."""

    created: frozenset[str]
    updated: frozenset[str]
    deleted: frozenset[str]
    #: Per attribute, the datasetIds of the instances deleted (for the null instances).
    deleted_instances: dict[str, list[dict[str, Any]]]
    entity_changed: bool


def diff(change: Change) -> Diff:
    old = change.old.attrs if change.old is not None else {}
    new = change.new.attrs if change.new is not None else {}
    created: set[str] = set()
    updated: set[str] = set()
    deleted: set[str] = set()
    gone: dict[str, list[dict[str, Any]]] = {}
    for iri in old.keys() | new.keys():
        before, after = _by_dataset(old.get(iri)), _by_dataset(new.get(iri))
        lost = [inst for ds, inst in before.items() if ds not in after]
        if lost:
            deleted.add(iri)
            gone[iri] = lost
        if any(ds not in before for ds in after):
            created.add(iri)
        # Any rewrite counts, the same value too (its modifiedAt moves): 5.6.2, 5.6.3.
        if any(ds in before and before[ds] != inst for ds, inst in after.items()):
            updated.add(iri)
    entity_changed = change.op == "update" and (
        bool(created or updated or deleted)
        or (
            (change.old is not None and change.new is not None)
            and (change.old.types != change.new.types or change.old.scopes != change.new.scopes)
        )
    )
    return Diff(frozenset(created), frozenset(updated), frozenset(deleted), gone, entity_changed)


def trigger_reason(sub: Live, change: Change, d: Diff) -> str | None:
    """The notificationTrigger (Table 5.2.12-1) this change fires for ``sub``, if any."""
    watched = sub.watched
    touched = d.created | d.updated | d.deleted
    if change.op == "create":
        touched = frozenset(change.current.attrs)

    def watched_touched(names: frozenset[str]) -> bool:
        return bool(names) and (watched is None or bool(names & watched))

    t = sub.triggers
    if change.op == "create":
        if "entityCreated" in t and (watched is None or watched_touched(touched)):
            return "entityCreated"
        if "attributeCreated" in t and watched_touched(touched):
            return "attributeCreated"
        return None
    if change.op == "delete":
        if "entityDeleted" in t and (watched is None or watched_touched(touched)):
            return "entityDeleted"
        if "attributeDeleted" in t and watched_touched(frozenset(change.current.attrs)):
            return "attributeDeleted"
        return None
    if "attributeCreated" in t and watched_touched(d.created):
        return "attributeCreated"
    if "attributeUpdated" in t and watched_touched(d.updated):
        return "attributeUpdated"
    if "attributeDeleted" in t and watched_touched(d.deleted):
        return "attributeDeleted"
    if "entityUpdated" in t and d.entity_changed and (watched is None or watched_touched(touched)):
        return "entityUpdated"
    return None


def selects(sub: Live, change: Change) -> bool:
    """Entity selectors, geoQ and scopeQ (q is checked by the database); nothing of an
    entity the subscriber may not see (ngsild/visibility.py)."""
    e = change.current
    if not visible(e.types, sub.view.visible):
        return False
    if sub.selectors is not None and not any(s.selects(e.id, e.types) for s in sub.selectors):
        return False
    if sub.geo is not None and not matches(sub.geo, e.attrs.get(sub.geo.geoproperty)):
        return False
    return sub.scope is None or scope_holds(sub.scope, e.scopes or [])


def _null_instance(inst: dict[str, Any], at: str, show_changes: bool) -> dict[str, Any]:
    """A deleted instance as notified: its kind, the null value, when it was deleted."""
    kind = str(inst.get("type", "Property"))
    member = VALUE_MEMBER.get(kind, "value")
    out: dict[str, Any] = {"type": kind}
    out[member] = {"@none": NULL} if member == "languageMap" else NULL
    if show_changes and member in inst:
        out[PREVIOUS[member]] = inst[member]
    for keep in ("datasetId", "createdAt", "modifiedAt"):
        if keep in inst:
            out[keep] = inst[keep]
    out["deletedAt"] = at
    return out


def _null_attribute(value: Any, at: str, show_changes: bool) -> dict[str, Any]:
    """A whole attribute deleted: one null instance (5.2.1), from its default instance (or
    its first one), without datasetId."""
    instances = as_list(value)
    base = next((i for i in instances if "datasetId" not in i), instances[0])
    return _null_instance({k: v for k, v in base.items() if k != "datasetId"}, at, show_changes)


def _with_previous(now: Any, before: Any) -> Any:
    """``now``'s instances, each with the previous value of the same datasetId (showChanges)."""
    olds = _by_dataset(before)
    shown = []
    for inst in as_list(now):
        old = olds.get(inst.get("datasetId"))
        member = VALUE_MEMBER.get(str(inst.get("type")), "value")
        if old is not None and member in old and old != inst:
            inst = {**inst, PREVIOUS[member]: old[member]}
        shown.append(inst)
    return stored(shown)


def notified_entity(sub: Live, change: Change, d: Diff, reason: str, at: str) -> StoredEntity:
    """The entity a notification carries, in expanded form: the entity after the change,
    with the instances it deleted as null instances (attributeDeleted, entityDeleted with
    showChanges) and, with showChanges, the previous values of what changed."""
    e = change.current
    attrs: dict[str, Any]
    if change.op == "delete":
        attrs = {}
        wanted = sub.show_changes or "attributeDeleted" in sub.triggers
        if wanted:
            for iri, value in e.attrs.items():
                if reason == "attributeDeleted" and sub.watched and iri not in sub.watched:
                    continue
                attrs[iri] = _null_attribute(value, at, sub.show_changes)
        return StoredEntity(e.id, e.types, attrs, e.scopes, e.created_at, e.modified_at)
    attrs = dict(e.attrs)
    if sub.show_changes and change.old is not None:
        for iri in d.updated:
            attrs[iri] = _with_previous(attrs[iri], change.old.attrs.get(iri))
    for iri, lost in d.deleted_instances.items():
        if iri in attrs:  # some instances remain: the deleted ones are shown by datasetId
            nulls = [_null_instance(i, at, sub.show_changes) for i in lost]
            attrs[iri] = stored([*as_list(attrs[iri]), *nulls])
        else:
            attrs[iri] = _null_attribute(stored(lost), at, sub.show_changes)
    return StoredEntity(e.id, e.types, attrs, e.scopes, e.created_at, e.modified_at)
