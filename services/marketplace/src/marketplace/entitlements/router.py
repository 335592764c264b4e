"""``GET /marketplace/v1/entitlements``: what the gateway enforces (MIMs marketplace API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from marketplace.deps import json_response
from marketplace.entitlements.service import EntitlementService

router = APIRouter(prefix="/marketplace/v1")

Text = Annotated[str | None, Query(min_length=1, max_length=500)]


async def _service(request: Request) -> EntitlementService:
    found: EntitlementService = request.app.state.entitlements
    return found


Service = Annotated[EntitlementService, Depends(_service)]


@router.get("/entitlements")
async def list_entitlements(
    request: Request,
    service: Service,
    party: Text = None,
    entityType: Text = None,
    dataset: Text = None,
    tenant: Annotated[str | None, Query(max_length=500)] = None,
    includeExpired: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Lists entitlements; only those valid now unless ``includeExpired`` (MIMs contract)."""
    tenant_given = "tenant" in request.query_params
    items, total = await service.page(
        party=party,
        entity_type=entityType,
        dataset=dataset,
        tenant=tenant or None,
        tenant_given=tenant_given,
        include_expired=includeExpired,
        offset=offset,
        limit=limit,
    )
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
    return json_response(items, 200, headers)
