"""Subscription use cases (ETSI GS CIM 009 V1.8.1, 5.8: Create 5.8.1, Update 5.8.2,
Retrieve 5.8.3, Query 5.8.4, Delete 5.8.5).

A subscription is checked whole before it is stored. Its @context is kept with it: a single
URL as it is, anything else as an ImplicitlyCreated @context the broker hosts (5.13.1), so
that notifications can always name their @context with a URL. Names are stored compacted
in that @context and shown in the reader's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from context_broker.contexts.service import IMPLICITLY_CREATED, ContextService
from context_broker.ngsild.ids import is_uri
from context_broker.ngsild.jsonld import CORE_CONTEXT_URL, CompiledContext
from context_broker.ngsild.selectors import map_atoms, parse_selector
from context_broker.ngsild.subscription import (
    DEFAULT_TRIGGERS,
    check_subscription,
    merge_fragment,
    parse_datetime,
    status_of,
)
from context_broker.ngsild.visibility import earliest
from context_broker.subscriptions import repository
from context_broker.subscriptions.repository import StoredSubscription
from mims_shared.db import Database
from mims_shared.errors import AlreadyExists, BadRequestData, DomainError, NotFound

MAX_PAGE = 1000


def _now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_id(sid: str) -> None:
    if not is_uri(sid):
        raise BadRequestData(f"The subscription id {sid[:200]!r} is not a URI")


def rename_names(
    doc: dict[str, Any], rename: Any, rename_type: Any | None = None
) -> dict[str, Any]:
    """The subscription with the names it holds (entity types, watched and notified
    attributes, the geoproperty) passed through ``rename``."""
    rename_type = rename_type or rename
    out = dict(doc)
    if isinstance(out.get("entities"), list):
        out["entities"] = [
            {**sel, "type": _rename_selector(sel["type"], rename_type)}
            if isinstance(sel, dict) and isinstance(sel.get("type"), str)
            else sel
            for sel in out["entities"]
        ]
    # Only names are renamed: anything else is left for the checks to refuse (a 400).
    if isinstance(out.get("watchedAttributes"), list):
        out["watchedAttributes"] = [
            rename(a) if isinstance(a, str) else a for a in out["watchedAttributes"]
        ]
    note = out.get("notification")
    if isinstance(note, dict) and isinstance(note.get("attributes"), list):
        names = [rename(a) if isinstance(a, str) else a for a in note["attributes"]]
        out["notification"] = {**note, "attributes": names}
    geo = out.get("geoQ")
    if isinstance(geo, dict) and isinstance(geo.get("geoproperty"), str):
        out["geoQ"] = {**geo, "geoproperty": rename(geo["geoproperty"])}
    return out


def _rename_selector(text: str, rename: Any) -> str:
    """A type expression with each type renamed, its operators kept."""
    out, token = [], ""
    for ch in text + "\0":
        if ch in ",;|()\0":
            if token:
                out.append(rename(token))
                token = ""
            if ch != "\0":
                out.append(ch)
        else:
            token += ch
    return "".join(out)


def own_context(s: StoredSubscription) -> Any:
    """The @context a subscription was written in (its value; the URL for older rows)."""
    return s.context_value if s.context_value is not None else s.context


class SubscriptionService:
    def __init__(self, db: Database, contexts: ContextService) -> None:
        self.db = db
        self.contexts = contexts

    async def _context_of(self, tenant: str, value: Any) -> str:
        """The URL that stands for a subscription's @context (see the module docstring)."""
        if value is None:
            return CORE_CONTEXT_URL
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str):
            return value
        cid = await self.contexts.add(tenant, {"@context": value}, kind=IMPLICITLY_CREATED)
        return self.contexts.hosted_url(cid)

    async def _check_context(self, doc: dict[str, Any]) -> None:
        """A jsonldContext must be a @context the broker can use for notifications."""
        url = doc.get("jsonldContext")
        if url is not None:
            await self.contexts.compiled(url)

    async def create(
        self,
        tenant: str,
        body: Any,
        ctx: CompiledContext,
        context_value: Any,
        visible: frozenset[str] | None = None,
        until: datetime | None = None,
        owner: str | None = None,
    ) -> str:
        """Create Subscription (5.8.1). A reader limited to some entity types
        (ngsild/visibility.py) is notified of those types only, and only until the
        entitlements that allow it end (``until``)."""
        now = _now()
        if isinstance(body, dict) and "id" in body:
            _check_id(str(body["id"]) if body["id"] is not None else "")
        doc = check_subscription(body, now=now)
        _check_names(doc, ctx)
        await self._check_context(doc)
        sid = str(doc.setdefault("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"))
        context_url = await self._context_of(tenant, context_value)
        s = StoredSubscription(
            tenant,
            sid,
            doc,
            context_url,
            context_value,
            doc.get("isActive", True),
            parse_datetime(doc["expiresAt"], "expiresAt") if "expiresAt" in doc else None,
            now,
            now,
            visible_types=sorted(visible) if visible is not None else None,
            visible_until=until,
            owner=owner,
        )
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.insert(uow.connection, s, doc.get("timeInterval")):
                raise AlreadyExists(f"Subscription {sid} already exists")
        return sid

    async def update(
        self,
        tenant: str,
        sid: str,
        fragment: Any,
        ctx: CompiledContext,
        visible: frozenset[str] | None = None,
        until: datetime | None = None,
        owner: str | None = None,
    ) -> None:
        """Update Subscription (5.8.2): the fragment merged into what is stored, checked
        whole again; status follows isActive and expiresAt. A reader limited to some entity
        types narrows the subscription to them (whoever receives the notifications after
        the update, they carry nothing that reader may not see)."""
        _check_id(sid)
        now = _now()
        async with self.db.unit_of_work() as uow:
            s = await repository.get(uow.connection, tenant, sid, for_update=True)
            if s is None or not _owned(s, owner):
                raise NotFound(f"Subscription {sid} does not exist")
            own = await self.contexts.compiled(own_context(s))
            if isinstance(fragment, dict):
                fragment = rename_names(
                    fragment,
                    lambda n: own.compact(ctx.expand(n)),
                    lambda t: own.compact_type(ctx.expand(t)),
                )
            merged = merge_fragment(s.doc, fragment)
            doc = check_subscription({**merged, "type": "Subscription"}, now=now)
            await self._check_context(doc)
            s.doc = doc
            s.is_active = doc.get("isActive", True)
            s.expires_at = (
                parse_datetime(doc["expiresAt"], "expiresAt") if "expiresAt" in doc else None
            )
            s.modified_at = now
            if visible is not None:
                kept = visible if s.visible_types is None else visible & set(s.visible_types)
                s.visible_types = sorted(kept)
            s.visible_until = earliest(s.visible_until, until)
            await repository.save(uow.connection, s, doc.get("timeInterval"))
            await uow.commit()

    async def delete(self, tenant: str, sid: str, owner: str | None = None) -> None:
        """Delete Subscription (5.8.5)."""
        _check_id(sid)
        async with self.db.unit_of_work() as uow:
            if not await repository.delete(uow.connection, tenant, sid, owner):
                raise NotFound(f"Subscription {sid} does not exist")
            await uow.commit()

    async def retrieve(
        self,
        tenant: str,
        sid: str,
        ctx: CompiledContext,
        *,
        sys_attrs: bool,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Retrieve Subscription (5.8.3)."""
        _check_id(sid)
        async with self.db.unit_of_work(transaction=False) as uow:
            s = await repository.get(uow.connection, tenant, sid)
        if s is None or not _owned(s, owner):
            raise NotFound(f"Subscription {sid} does not exist")
        return await self.show(s, ctx, sys_attrs=sys_attrs)

    async def query(
        self,
        tenant: str,
        ctx: CompiledContext,
        *,
        offset: int,
        limit: int,
        sys_attrs: bool,
        owner: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Query Subscriptions (5.8.4)."""
        if limit > MAX_PAGE:
            raise BadRequestData(f"limit may not exceed {MAX_PAGE}")
        async with self.db.unit_of_work(transaction=False) as uow:
            found, total = await repository.page(uow.connection, tenant, offset, limit, owner)
        return [await self.show(s, ctx, sys_attrs=sys_attrs) for s in found], total

    async def show(
        self, s: StoredSubscription, ctx: CompiledContext, *, sys_attrs: bool
    ) -> dict[str, Any]:
        """The subscription as read (Table 5.2.12-1 and -2): names in the reader's @context,
        with the status members the broker maintains."""
        try:
            own = await self.contexts.compiled(own_context(s))
        except DomainError:  # its @context cannot be had now: names as they were written
            doc = dict(s.doc)
        else:
            doc = rename_names(
                s.doc,
                lambda n: ctx.compact(own.expand(n)),
                lambda t: ctx.compact_type(own.expand(t)),
            )
        doc.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
        if "jsonldContext" not in doc and str(s.context).startswith(self.contexts.hosted_prefix):
            # The inline @context it was created with, hosted as ImplicitlyCreated (5.13.1).
            doc["jsonldContext"] = s.context
        doc["status"] = status_of(s.is_active, earliest(s.expires_at, s.visible_until), _now())
        note = dict(doc["notification"])
        if s.times_sent:
            note["timesSent"] = s.times_sent
        if s.times_failed:
            note["timesFailed"] = s.times_failed
        if s.delivery_status is not None:
            note["status"] = s.delivery_status
        for member, moment in (
            ("lastNotification", s.last_notification),
            ("lastSuccess", s.last_success),
            ("lastFailure", s.last_failure),
        ):
            if moment is not None:
                note[member] = iso(moment)
        doc["notification"] = note
        if sys_attrs:
            doc["createdAt"] = iso(s.created_at)
            doc["modifiedAt"] = iso(s.modified_at)
        return doc


def _check_names(doc: dict[str, Any], ctx: CompiledContext) -> None:
    """Every type and attribute name must expand to an IRI in the subscription's @context."""
    for sel in doc.get("entities", []):
        parsed = parse_selector(sel["type"], "type", lambda t: True)
        map_atoms(parsed, lambda t: _expand(ctx, t))
    for name in doc.get("watchedAttributes", []):
        _expand(ctx, name)
    for name in doc["notification"].get("attributes", []):
        _expand(ctx, name)


def _expand(ctx: CompiledContext, name: str) -> str:
    iri = ctx.expand(name)
    if iri.startswith("@") or ":" not in iri:
        raise BadRequestData(f"The name {name[:200]!r} does not expand to an IRI")
    return iri


def _owned(s: StoredSubscription, owner: str | None) -> bool:
    """Whether a subscriber limited to some entity types (``owner``: its subject; None: not
    limited) may see this subscription: only those it made."""
    return owner is None or s.owner == owner
