"""MIM2 over HTTP: the data models the broker knows, validation modes per tenant and type,
and conformance reports (an extension of the broker; not part of ETSI GS CIM 009).

Type names are expanded with the request's @context (Link header), as NGSI-LD names are;
an IRI is taken as it is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from context_broker.datamodels.service import ConformanceService
from context_broker.deps import Json, LdContext, Tenant, reject_unknown_query_parameters
from context_broker.entities.service import expand_name
from mims_shared.errors import BadRequestData

router = APIRouter(prefix="/mim2/v1", dependencies=[Depends(reject_unknown_query_parameters)])


async def _conformance(request: Request) -> ConformanceService:
    service: ConformanceService = request.app.state.conformance
    return service


Service = Annotated[ConformanceService, Depends(_conformance)]


@router.get("/models")
async def list_models(service: Service) -> dict[str, Any]:
    """The data models loaded from the catalogue, with the entity types (IRIs) each covers,
    and why the last refresh failed, if it did."""
    return await service.models()


@router.get("/validation")
async def list_modes(service: Service, tenant: Tenant) -> dict[str, Any]:
    """The validation mode of each type that has one, and the default of the others."""
    return {"default": service.default_mode, "types": await service.modes(tenant)}


@router.put("/validation/{type_name:id}", status_code=204)
async def set_mode(
    service: Service, tenant: Tenant, ld: LdContext, type_name: str, body: Json
) -> Response:
    """Set the mode (off, warn, enforce) of a type in the tenant: ``{"mode": "enforce"}``."""
    if not isinstance(body, dict) or set(body) != {"mode"} or not isinstance(body["mode"], str):
        raise BadRequestData('The body must be {"mode": "off" | "warn" | "enforce"}')
    await service.set_mode(tenant, expand_name(ld.compiled, type_name), body["mode"])
    return Response(status_code=204)


@router.delete("/validation/{type_name:id}", status_code=204)
async def drop_mode(service: Service, tenant: Tenant, ld: LdContext, type_name: str) -> Response:
    """Back to the default mode for the type."""
    await service.drop_mode(tenant, expand_name(ld.compiled, type_name))
    return Response(status_code=204)


@router.get("/conformance/{type_name:id}")
async def conformance_report(
    service: Service, tenant: Tenant, ld: LdContext, type_name: str
) -> dict[str, Any]:
    """How the tenant's entities of the type conform to its data model."""
    return await service.report(tenant, expand_name(ld.compiled, type_name))
