"""@context management over HTTP (ETSI GS CIM 009 V1.8.1, 5.13; HTTP binding 6.29, 6.30)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from context_broker.contexts.service import KINDS, ContextService
from context_broker.deps import Json, Tenant, reject_unknown_query_parameters
from context_broker.ngsild.flags import json_media_type, parse_flag
from mims_shared.errors import BadRequestData

router = APIRouter(prefix="/ngsi-ld/v1", dependencies=[Depends(reject_unknown_query_parameters)])


async def _contexts(request: Request) -> ContextService:
    service: ContextService = request.app.state.contexts
    return service


Service = Annotated[ContextService, Depends(_contexts)]
Accept = Annotated[str | None, Header()]
#: A query parameter read as text, checked here (BadRequestData, not InvalidRequest).
Text = Annotated[str | None, Query()]


def _json(body: object, media_type: str) -> Response:
    return Response(orjson.dumps(body), media_type=media_type)


@router.post("/jsonldContexts", status_code=201)
async def add_context(service: Service, tenant: Tenant, body: Json) -> Response:
    """Add @context (5.13.2; HTTP binding 6.29.3.1)."""
    cid = await service.add(tenant, body)
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/jsonldContexts/{cid}"})


@router.get("/jsonldContexts")
async def list_contexts(
    service: Service,
    tenant: Tenant,
    accept: Accept = None,
    details: Text = None,
    kind: Text = None,
) -> Response:
    """List @contexts (5.13.3; HTTP binding 6.29.3.2)."""
    with_details = parse_flag("details", details)
    if kind is not None and kind not in KINDS:
        raise BadRequestData(f"kind must be one of {', '.join(KINDS)}, not {kind[:50]!r}")
    media = json_media_type(accept)
    found = await service.list_contexts(tenant, kind=kind, usage=with_details)
    if with_details:
        return _json([info.to_json() for info in found], media)
    return _json([info.url for info in found], media)


@router.get("/jsonldContexts/{context_id:id}")
async def serve_context(
    service: Service,
    tenant: Tenant,
    context_id: str,
    accept: Accept = None,
    details: Text = None,
) -> Response:
    """Serve @context (5.13.4; HTTP binding 6.30.3.1)."""
    with_details = parse_flag("details", details)
    media = json_media_type(accept)
    return _json(await service.serve(tenant, context_id, details=with_details), media)


@router.delete("/jsonldContexts/{context_id:id}", status_code=204)
async def delete_context(
    service: Service, tenant: Tenant, context_id: str, reload: Text = None
) -> Response:
    """Delete and Reload @context (5.13.5; HTTP binding 6.30.3.2)."""
    await service.delete(tenant, context_id, reload=parse_flag("reload", reload))
    return Response(status_code=204)
