"""TMF632 Party Management v5 over HTTP: organizations."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from marketplace.deps import Json, organizations
from marketplace.party.service import OrganizationService
from marketplace.tmf.fields import select_fields

router = APIRouter(prefix="/tmf-api/partyManagement/v5")

Service = Annotated[OrganizationService, organizations]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.post("/organization", status_code=201)
async def create_organization(service: Service, body: Json, fields: str | None = None) -> Response:
    """Creates an Organization (TMF632 v5.0.0, createOrganization)."""
    created = await service.create(body)
    return _json(select_fields(created, fields), 201, {"Location": created["href"]})


@router.get("/organization")
async def list_organization(
    service: Service,
    fields: str | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Lists Organizations (TMF632 v5.0.0, listOrganization)."""
    items, total = await service.page(offset, limit)
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
    return _json([select_fields(i, fields) for i in items], 200, headers)


@router.get("/organization/{id}")
async def retrieve_organization(service: Service, id: str, fields: str | None = None) -> Response:
    """Retrieves an Organization by id (TMF632 v5.0.0, retrieveOrganization)."""
    return _json(select_fields(await service.get(id), fields))


@router.delete("/organization/{id}", status_code=204)
async def delete_organization(service: Service, id: str) -> Response:
    """Deletes an Organization (TMF632 v5.0.0, deleteOrganization)."""
    await service.delete(id)
    return Response(status_code=204)
