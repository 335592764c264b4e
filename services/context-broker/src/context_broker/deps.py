"""Dependencies the routers use: body, tenant and the services built by the lifespan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from context_broker.entities.service import EntityService
from context_broker.ngsild.media import JSON, JSONLD
from context_broker.ngsild.tenant import parse_tenant
from mims_shared.web.body import json_body

Json = Annotated[Any, json_body(JSON, JSONLD)]


async def _tenant(
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> str:
    return parse_tenant(ngsild_tenant)


Tenant = Annotated[str, Depends(_tenant)]


async def _entities(request: Request) -> EntityService:
    service: EntityService = request.app.state.entities
    return service


entities = Depends(_entities)
