"""NGSI-LD subscriptions over HTTP (ETSI GS CIM 009 V1.8.1, clauses 6.10 and 6.11)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from context_broker.deps import (
    EntitledUntil,
    Json,
    JsonPatch,
    Ld,
    LdContext,
    Owner,
    Tenant,
    Visible,
    read_ld,
    reject_unknown_query_parameters,
)
from context_broker.ngsild.links import link_header, page_links
from context_broker.ngsild.media import GEOJSON, JSONLD, choose_response_type
from context_broker.ngsild.representation import parse_options
from context_broker.subscriptions.service import SubscriptionService
from mims_shared.errors import NotAcceptable

router = APIRouter(prefix="/ngsi-ld/v1", dependencies=[Depends(reject_unknown_query_parameters)])

PATH = "/ngsi-ld/v1/subscriptions"


async def _subscriptions(request: Request) -> SubscriptionService:
    service: SubscriptionService = request.app.state.subscriptions
    return service


Service = Annotated[SubscriptionService, Depends(_subscriptions)]
Accept = Annotated[str | None, Header()]
NonNegative = Annotated[int, Query(ge=0, le=1_000_000_000)]


def _answer(
    body: Any,
    ld: Ld,
    accept: str | None,
    headers: dict[str, str] | None = None,
    links: list[str] | None = None,
) -> Response:
    """JSON with a Link header, or JSON-LD with an @context member (6.3.6)."""
    media = _media(accept)
    headers = dict(headers or {})
    context = ld.value if ld.value is not None else ld.link_url
    if media == JSONLD:
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        else:
            body = {**body, "@context": context}
        if links:
            headers["Link"] = ", ".join(links)
    else:
        headers["Link"] = ", ".join([link_header(ld.link_url), *(links or [])])
    return Response(orjson.dumps(body), 200, headers, media_type=media)


def _media(accept: str | None) -> str:
    """JSON or JSON-LD; GeoJSON is for entities only (6.3.4): 406."""
    media = choose_response_type(accept)
    if media == GEOJSON:
        raise NotAcceptable(
            "Subscriptions are available as application/json or application/ld+json"
        )
    return media


def _sys_attrs(options: str | None) -> bool:
    return parse_options(options, None)[1]


@router.post("/subscriptions", status_code=201)
async def create_subscription(
    service: Service,
    tenant: Tenant,
    body: Json,
    request: Request,
    visible: Visible,
    until: EntitledUntil,
    owner: Owner,
) -> Response:
    """Create Subscription (5.8.1; HTTP binding 6.10.3.1): 201 with its Location."""
    ld = await read_ld(request, body)
    sid = await service.create(tenant, body, ld.compiled, ld.value, visible, until, owner)
    return Response(status_code=201, headers={"Location": f"{PATH}/{sid}"})


@router.get("/subscriptions")
async def query_subscriptions(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    owner: Owner,
    accept: Accept = None,
    limit: Annotated[int, Query(ge=0)] = 20,
    offset: NonNegative = 0,
    count: bool = False,
    options: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Query Subscriptions (5.8.4; 6.10.3.2): a page, optionally counted."""
    _media(accept)
    found, total = await service.query(
        tenant,
        ld.compiled,
        offset=offset,
        limit=limit,
        sys_attrs=_sys_attrs(options),
        owner=owner,
    )
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return _answer(found, ld, accept, headers, page_links(PATH, offset, limit, total))


@router.get("/subscriptions/{subscription_id:id}")
async def retrieve_subscription(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    owner: Owner,
    subscription_id: str,
    accept: Accept = None,
    options: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    """Retrieve Subscription (5.8.3; 6.11.3.1)."""
    _media(accept)
    found = await service.retrieve(
        tenant, subscription_id, ld.compiled, sys_attrs=_sys_attrs(options), owner=owner
    )
    return _answer(found, ld, accept)


@router.patch("/subscriptions/{subscription_id:id}", status_code=204)
async def update_subscription(
    service: Service,
    tenant: Tenant,
    subscription_id: str,
    body: JsonPatch,
    request: Request,
    visible: Visible,
    until: EntitledUntil,
    owner: Owner,
) -> Response:
    """Update Subscription (5.8.2; 6.11.3.2): 204."""
    ld = await read_ld(request, body)
    await service.update(tenant, subscription_id, body, ld.compiled, visible, until, owner)
    return Response(status_code=204)


@router.delete("/subscriptions/{subscription_id:id}", status_code=204)
async def delete_subscription(
    service: Service, tenant: Tenant, subscription_id: str, owner: Owner
) -> Response:
    """Delete Subscription (5.8.5; 6.11.3.3): 204."""
    await service.delete(tenant, subscription_id, owner)
    return Response(status_code=204)
