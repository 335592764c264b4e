"""NGSI-LD entities over HTTP (ETSI GS CIM 009 V1.8.1, clause 6.4 and 6.5)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from context_broker.deps import Json, Tenant, entities
from context_broker.entities.service import EntityService
from context_broker.ngsild.media import CORE_CONTEXT, JSONLD, choose_response_type, context_link
from mims_shared.web.body import media_type_of

router = APIRouter(prefix="/ngsi-ld/v1")

Service = Annotated[EntityService, entities]


@router.post("/entities", status_code=201)
async def create_entity(service: Service, tenant: Tenant, body: Json, request: Request) -> Response:
    """Create Entity (ETSI GS CIM 009 V1.8.1, 5.6.1; HTTP binding 6.4.3.1)."""
    ld = media_type_of(request.headers.get("content-type")) == JSONLD
    eid = await service.create(tenant, body, context_in_body=ld)
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{eid}"})


@router.get("/entities/{entity_id:path}")
async def retrieve_entity(
    service: Service,
    tenant: Tenant,
    entity_id: str,
    options: str | None = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Retrieve Entity (ETSI GS CIM 009 V1.8.1, 5.7.1; HTTP binding 6.5.3.1)."""
    media = choose_response_type(accept)
    sys_attrs = options is not None and "sysAttrs" in options.split(",")
    entity = await service.retrieve(tenant, entity_id, sys_attrs=sys_attrs)
    context = entity.pop("@context", None) or CORE_CONTEXT
    headers = {}
    if media == JSONLD:
        entity["@context"] = context
    else:
        link = context if isinstance(context, str) else CORE_CONTEXT
        headers["Link"] = context_link(link)
    return Response(orjson.dumps(entity), 200, headers, media_type=media)


@router.delete("/entities/{entity_id:path}", status_code=204)
async def delete_entity(service: Service, tenant: Tenant, entity_id: str) -> Response:
    """Delete Entity (ETSI GS CIM 009 V1.8.1, 5.6.6; HTTP binding 6.5.3.2)."""
    await service.delete(tenant, entity_id)
    return Response(status_code=204)
