"""Context discovery use cases (ETSI GS CIM 009 V1.8.1, 5.7.5 to 5.7.10).

What exists is read from the entities of the tenant (their expanded types and attribute
names); the answer names types and attributes in the reader's @context. Shapes are the
data types of clauses 5.2.24 to 5.2.28 (EntityTypeList, EntityType, EntityTypeInfo,
AttributeList, Attribute).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from context_broker.discovery import repository
from context_broker.ngsild.ids import is_valid_name
from context_broker.ngsild.jsonld import CompiledContext
from mims_shared.db import Database
from mims_shared.errors import BadRequestData, NotFound

T = TypeVar("T")


def _list_id(kind: str) -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4()}"


def _names(visible: frozenset[str] | None) -> list[str] | None:
    return None if visible is None else sorted(visible)


def _check_name(what: str, name: str) -> None:
    if not is_valid_name(name):
        raise BadRequestData(f"The {what} {name[:200]!r} is not a valid name or IRI")


class DiscoveryService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _read(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One repository read on a connection of its own (no transaction)."""
        async with self.db.unit_of_work(transaction=False) as uow:
            return await fetch(uow.connection, *args)

    async def entity_types(
        self, tenant: str, ctx: CompiledContext, visible: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Retrieve Available Entity Types (5.7.5): an EntityTypeList (5.2.24)."""
        iris = await self._read(repository.entity_types, tenant, _names(visible))
        names = sorted({ctx.compact_type(iri) for iri in iris})
        return {"id": _list_id("EntityTypeList"), "type": "EntityTypeList", "typeList": names}

    async def entity_type_details(
        self, tenant: str, ctx: CompiledContext, visible: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        """Retrieve Details of Available Entity Types (5.7.6): EntityType objects (5.2.25)."""
        found = await self._read(repository.entity_types_with_attributes, tenant, _names(visible))
        out = [
            {
                "id": iri,
                "type": "EntityType",
                "typeName": ctx.compact_type(iri),
                "attributeNames": sorted(ctx.compact(a) for a in attrs),
            }
            for iri, attrs in found.items()
        ]
        return sorted(out, key=lambda t: (t["typeName"], t["id"]))

    async def entity_type(
        self,
        tenant: str,
        ctx: CompiledContext,
        name: str,
        visible: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """Retrieve Available Entity Type Information (5.7.7): an EntityTypeInfo (5.2.26)."""
        _check_name("entity type", name)
        iri = ctx.expand(name)
        info = await self._read(repository.entity_type, tenant, iri, _names(visible))
        if info.entities == 0:
            raise NotFound(f"Entity type {name} does not exist: no entity has it")
        details = [
            {
                "id": attr,
                "type": "Attribute",
                "attributeName": ctx.compact(attr),
                "attributeTypes": sorted(kinds),
            }
            for attr, kinds in info.attributes.items()
        ]
        return {
            "id": iri,
            "type": "EntityTypeInfo",
            "typeName": ctx.compact_type(iri),
            "entityCount": info.entities,
            "attributeDetails": sorted(details, key=lambda a: (a["attributeName"], a["id"])),
        }

    async def attributes(
        self, tenant: str, ctx: CompiledContext, visible: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Retrieve Available Attributes (5.7.8): an AttributeList (5.2.27)."""
        iris = await self._read(repository.attributes, tenant, _names(visible))
        names = sorted({ctx.compact(iri) for iri in iris})
        return {"id": _list_id("AttributeList"), "type": "AttributeList", "attributeList": names}

    async def attribute_details(
        self, tenant: str, ctx: CompiledContext, visible: frozenset[str] | None = None
    ) -> list[dict[str, Any]]:
        """Retrieve Details of Available Attributes (5.7.9): Attribute objects (5.2.28)."""
        found = await self._read(repository.attributes_with_types, tenant, _names(visible))
        out = [
            {
                "id": iri,
                "type": "Attribute",
                "attributeName": ctx.compact(iri),
                "typeNames": sorted(ctx.compact_type(t) for t in types),
            }
            for iri, types in found.items()
        ]
        return sorted(out, key=lambda a: (a["attributeName"], a["id"]))

    async def attribute(
        self,
        tenant: str,
        ctx: CompiledContext,
        name: str,
        visible: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """Retrieve Available Attribute Information (5.7.10): an Attribute (5.2.28)."""
        _check_name("attribute", name)
        iri = ctx.expand(name)
        info = await self._read(repository.attribute, tenant, iri, _names(visible))
        if info.entities == 0:
            raise NotFound(f"Attribute {name} does not exist: no entity has it")
        return {
            "id": iri,
            "type": "Attribute",
            "attributeName": ctx.compact(iri),
            "attributeCount": info.instances,
            "attributeTypes": sorted(info.kinds),
            "typeNames": sorted(ctx.compact_type(t) for t in info.types),
        }
