"""Entity use cases (ETSI GS CIM 009 V1.8.1, clauses 5.6 and 5.7)."""

from __future__ import annotations

from typing import Any

from context_broker.entities import repository
from context_broker.ngsild.entity import parse_entity
from context_broker.ngsild.ids import is_uri
from mims_shared.db import Database
from mims_shared.errors import AlreadyExists, BadRequestData, NotFound


def _check_id(eid: str) -> None:
    if not is_uri(eid):
        raise BadRequestData(f"The entity id {eid[:200]!r} is not a URI")


class EntityService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, tenant: str, body: Any, *, context_in_body: bool) -> str:
        """Create Entity (5.6.1): stored whole, or not at all."""
        entity = parse_entity(body, context_in_body=context_in_body)
        # One INSERT: atomic by itself, no explicit transaction needed.
        async with self.db.unit_of_work(transaction=False) as uow:
            created = await repository.insert(
                uow.connection, tenant, entity.id, entity.types, entity.attrs, entity.context
            )
            if not created:
                raise AlreadyExists(f"Entity {entity.id} already exists")
            await uow.commit()
        return entity.id

    async def retrieve(self, tenant: str, eid: str, *, sys_attrs: bool) -> dict[str, Any]:
        """Retrieve Entity (5.7.1)."""
        _check_id(eid)
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.get(uow.connection, tenant, eid)
        if row is None:
            raise NotFound(f"Entity {eid} does not exist")
        types = row["types"]
        entity: dict[str, Any] = {"id": eid, "type": types[0] if len(types) == 1 else types}
        entity.update(row["attrs"])
        if sys_attrs:
            entity["createdAt"] = row["created_at"].isoformat().replace("+00:00", "Z")
            entity["modifiedAt"] = row["modified_at"].isoformat().replace("+00:00", "Z")
        if row["context"] is not None:
            entity["@context"] = row["context"]
        return entity

    async def delete(self, tenant: str, eid: str) -> None:
        """Delete Entity (5.6.6)."""
        _check_id(eid)
        async with self.db.unit_of_work(transaction=False) as uow:
            if not await repository.delete(uow.connection, tenant, eid):
                raise NotFound(f"Entity {eid} does not exist")
            await uow.commit()
