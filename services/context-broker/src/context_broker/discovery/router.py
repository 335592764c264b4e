"""Context discovery over HTTP (ETSI GS CIM 009 V1.8.1, 5.7.5-5.7.10; HTTP binding 6.25-6.28)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from context_broker.deps import Ld, LdContext, Tenant, Visible, reject_unknown_query_parameters
from context_broker.discovery.service import DiscoveryService
from context_broker.ngsild.flags import json_media_type, parse_flag
from context_broker.ngsild.links import link_header
from context_broker.ngsild.media import JSONLD

router = APIRouter(prefix="/ngsi-ld/v1", dependencies=[Depends(reject_unknown_query_parameters)])


async def _discovery(request: Request) -> DiscoveryService:
    service: DiscoveryService = request.app.state.discovery
    return service


Service = Annotated[DiscoveryService, Depends(_discovery)]
Accept = Annotated[str | None, Header()]
#: A boolean query parameter, read as text (see parse_flag).
Flag = Annotated[str | None, Query()]


def _answer(body: Any, ld: Ld, media: str) -> Response:
    """The body in the media type asked for: @context inside for JSON-LD, else a Link."""
    headers: dict[str, str] = {}
    if media == JSONLD:
        context = ld.value if ld.value is not None else ld.link_url
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        else:
            body = {**body, "@context": context}
    else:
        headers["Link"] = link_header(ld.link_url)
    return Response(orjson.dumps(body), 200, headers, media_type=media)


@router.get("/types")
async def retrieve_entity_types(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    visible: Visible,
    accept: Accept = None,
    details: Flag = None,
    local: Flag = None,
) -> Response:
    """Retrieve Available Entity Types / Details of Available Entity Types (5.7.5, 5.7.6;
    HTTP binding 6.25.3.1)."""
    media = json_media_type(accept)
    parse_flag("local", local)  # no Context Source is registered: every answer is local
    if parse_flag("details", details):
        return _answer(await service.entity_type_details(tenant, ld.compiled, visible), ld, media)
    return _answer(await service.entity_types(tenant, ld.compiled, visible), ld, media)


@router.get("/types/{type_name:id}")
async def retrieve_entity_type(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    visible: Visible,
    type_name: str,
    accept: Accept = None,
    local: Flag = None,
) -> Response:
    """Retrieve Available Entity Type Information (5.7.7; HTTP binding 6.26.3.1)."""
    media = json_media_type(accept)
    parse_flag("local", local)
    return _answer(await service.entity_type(tenant, ld.compiled, type_name, visible), ld, media)


@router.get("/attributes")
async def retrieve_attributes(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    visible: Visible,
    accept: Accept = None,
    details: Flag = None,
    local: Flag = None,
) -> Response:
    """Retrieve Available Attributes / Details of Available Attributes (5.7.8, 5.7.9;
    HTTP binding 6.27.3.1)."""
    media = json_media_type(accept)
    parse_flag("local", local)
    if parse_flag("details", details):
        return _answer(await service.attribute_details(tenant, ld.compiled, visible), ld, media)
    return _answer(await service.attributes(tenant, ld.compiled, visible), ld, media)


@router.get("/attributes/{attr_id:id}")
async def retrieve_attribute(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    visible: Visible,
    attr_id: str,
    accept: Accept = None,
    local: Flag = None,
) -> Response:
    """Retrieve Available Attribute Information (5.7.10; HTTP binding 6.28.3.1)."""
    media = json_media_type(accept)
    parse_flag("local", local)
    return _answer(await service.attribute(tenant, ld.compiled, attr_id, visible), ld, media)
