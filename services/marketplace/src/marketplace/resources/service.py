"""The use cases every TMF resource shares: create, list, retrieve, merge-patch, delete.

Each write is stored atomically with the events it causes (written to the outbox in the same
statement or the same transaction), so a resource never changes without its event, nor an
event leaves for a change rolled back. Kinds with rules of their own (offerings, orders,
products) subclass this and override the hooks ``prepare`` (HTTP checks, before any
transaction), ``check_create``, ``check_patch`` and ``side_effects``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from marketplace.events.dispatcher import Dispatcher
from marketplace.events.repository import calls_write
from marketplace.resources import repository
from marketplace.resources.compose import Write
from marketplace.tmf.events import Event, change_event, event
from marketplace.tmf.kinds import Kind
from marketplace.tmf.patch import merge_patch
from marketplace.tmf.query import (
    QueryError,
    parse_filters,
    split_reference,
    split_status,
    to_jsonpath,
)
from marketplace.tmf.validate import problems
from mims_shared.db import LOST, Database, Lost, optimistic
from mims_shared.errors import BadRequestData, InvalidRequest, NotFound

Call = tuple[str, str, dict[str, Any] | None]


@dataclass
class Effects:
    """Further events, outgoing HTTP calls (through the outbox) and rows of other tables
    (``writes``) that a write causes."""

    events: list[Event] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)

    def all_writes(self) -> list[Write]:
        """The writes, the calls' outbox rows among them."""
        return [*self.writes, calls_write(self.calls)] if self.calls else list(self.writes)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ResourceService:
    #: Whether a create needs a transaction: kinds whose hooks read or write more than the
    #: one statement that stores the resource with its events say so.
    create_in_transaction = False

    def __init__(self, kind: Kind, db: Database, base_url: str, dispatcher: Dispatcher) -> None:
        self.kind = kind
        self.db = db
        self.base = base_url.rstrip("/") + kind.api.prefix + "/" + kind.name
        self.dispatcher = dispatcher

    # --- hooks -----------------------------------------------------------------------
    async def prepare(self, body: dict[str, Any]) -> None:
        """Checks that need other services (HTTP), made before any transaction is opened
        (on a create body or a merge patch); may complete ``body``."""

    async def check_create(self, conn: asyncpg.Connection, resource: dict[str, Any]) -> list[Event]:
        """Rules beyond the shape, checked on the creating connection, in a transaction when
        ``create_in_transaction`` (may complete the
        resource); further events the creation causes."""
        return []

    async def check_patch(
        self, conn: asyncpg.Connection, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Rules on a change (may read, and complete ``new``); nothing is written yet."""

    async def side_effects(
        self, conn: asyncpg.Connection, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> Effects:
        """What a write causes besides its own event, decided before the write is stored
        (``new`` may still be completed) and stored with it, atomically."""
        return Effects()

    # --- helpers ---------------------------------------------------------------------
    def parse_id(self, raw: str) -> uuid.UUID:
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise NotFound(f"{self.kind.title} {raw} does not exist") from None

    def _invalid(self, found: list[str]) -> BadRequestData:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        return BadRequestData(f"{self.kind.title} is not valid: {shown}")

    # --- use cases -------------------------------------------------------------------
    def new_resource(self, body: dict[str, Any]) -> dict[str, Any]:
        """The stored form of a valid create body: id, href and server-set members added."""
        rid = uuid.uuid4()
        resource = dict(body)
        resource["id"] = str(rid)
        resource["href"] = f"{self.base}/{rid}"
        kind = self.kind
        if kind.status_member and kind.initial_status and kind.status_member not in resource:
            resource[kind.status_member] = kind.initial_status
        if kind.stamps_last_update:
            resource["lastUpdate"] = now_iso()
        return resource

    async def create(self, body: Any) -> dict[str, Any]:
        """Create (TMF630 part 1, 4.2: POST returns 201 with the created resource)."""
        if not isinstance(body, dict):
            raise BadRequestData(f"A {self.kind.title} must be a JSON object")
        found = problems(self.kind, body, partial=False)
        if found:
            raise self._invalid(found)
        await self.prepare(body)
        resource = self.new_resource(body)
        async with self.db.unit_of_work(transaction=self.create_in_transaction) as uow:
            conn = uow.connection
            events = await self.check_create(conn, resource)
            effects = await self.side_effects(conn, None, resource)
            events = [event(self.kind, "Create", resource), *events, *effects.events]
            rid = uuid.UUID(resource["id"])
            queued = await repository.insert(
                conn, self.kind.name, rid, resource, events, effects.all_writes()
            )
            await uow.commit()
        if queued:
            self.dispatcher.wake()
        return resource

    async def get(self, raw_id: str) -> dict[str, Any]:
        rid = self.parse_id(raw_id)
        async with self.db.unit_of_work(transaction=False) as uow:
            found = await repository.get(uow.connection, self.kind.name, rid)
        if found is None:
            raise NotFound(f"{self.kind.title} {raw_id} does not exist")
        return found

    async def page(
        self, params: list[tuple[str, str]], offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """List with attribute filters (TMF630 part 1, 3.3) and paging (3.5)."""
        try:
            statuses, rest = split_status(parse_filters(params), self.kind.status_member)
        except QueryError as exc:
            raise InvalidRequest(str(exc)) from None
        term = None
        if self.kind.reference_terms:
            term, rest = split_reference(rest)
        predicate = to_jsonpath(rest)
        async with self.db.unit_of_work(transaction=False) as uow:
            return await repository.page(
                uow.connection,
                self.kind.name,
                statuses,
                term,
                predicate,
                offset,
                limit,
                counted=self.kind.reference_terms,
            )

    async def patch(self, raw_id: str, body: Any) -> dict[str, Any]:
        """Partial update with JSON Merge Patch (TMF630 part 1, 4.3; RFC 7386).

        Optimistic: the resource is read with its version, the change checked and its
        effects decided, then stored with them in one statement if the resource is still
        at that version (otherwise all of it again). Two round trips and no transaction;
        a concurrent change is never overwritten. Under contention the last attempt
        locks the row (``FOR UPDATE`` in a transaction), so every patch gets through.
        """
        rid = self.parse_id(raw_id)
        if not isinstance(body, dict):
            raise BadRequestData(f"A {self.kind.title} patch must be a JSON object")
        found = problems(self.kind, body, partial=True)
        if found:
            raise self._invalid(found)
        await self.prepare(body)

        async def attempt(conn: Any, locked: bool) -> tuple[dict[str, Any], int] | Lost:
            current = await repository.get_versioned(conn, self.kind.name, rid, for_update=locked)
            if current is None:
                raise NotFound(f"{self.kind.title} {raw_id} does not exist")
            old, version = current
            new: dict[str, Any] = merge_patch(old, body)
            content = {k: v for k, v in new.items() if k not in self.kind.read_only}
            found = problems(self.kind, content, partial=False)
            if found:
                raise self._invalid(found)
            if self.kind.stamps_last_update:
                new["lastUpdate"] = now_iso()
            await self.check_patch(conn, old, new)
            effects = await self.side_effects(conn, old, new)
            events = [change_event(self.kind, old, new), *effects.events]
            queued = await repository.update(
                conn, self.kind.name, rid, new, events, effects.all_writes(), version=version
            )
            return LOST if queued is None else (new, queued)

        new, queued = await optimistic(self.db, attempt)
        if queued:
            self.dispatcher.wake()
        return new

    async def delete(self, raw_id: str) -> None:
        """Delete (TMF630 part 1, 4.5), optimistic as :meth:`patch` is."""
        rid = self.parse_id(raw_id)

        async def attempt(conn: Any, locked: bool) -> int | Lost:
            current = await repository.get_versioned(conn, self.kind.name, rid, for_update=locked)
            if current is None:
                raise NotFound(f"{self.kind.title} {raw_id} does not exist")
            old, version = current
            effects = await self.side_effects(conn, old, None)
            events = [event(self.kind, "Delete", old), *effects.events]
            queued = await repository.delete(
                conn, self.kind.name, rid, version, events, effects.all_writes()
            )
            return LOST if queued is None else queued

        if await optimistic(self.db, attempt):
            self.dispatcher.wake()
