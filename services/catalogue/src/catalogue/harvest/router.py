"""Harvest sources and runs (DCAT-AP harvesting as data.europa.eu's and CKAN's harvesters do
it, the other way round; NGSI-LD discovery for the context broker)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from catalogue.deps import Harvest, Json

router = APIRouter(prefix="/catalogue/v1/harvest-sources")


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.post("", status_code=201)
async def create_harvest_source(service: Harvest, body: Json) -> Response:
    """Register a harvest source (a DCAT-AP RDF endpoint, a CKAN API or a context broker)."""
    created = await service.create(body)
    return _json(created, 201, {"Location": created["uri"]})


@router.get("")
async def list_harvest_sources(service: Harvest) -> Response:
    """List the harvest sources."""
    return _json(await service.list_sources())


@router.get("/{source_id}")
async def retrieve_harvest_source(service: Harvest, source_id: str) -> Response:
    """Read one harvest source."""
    return _json(await service.get(source_id))


@router.delete("/{source_id}", status_code=204)
async def delete_harvest_source(service: Harvest, source_id: str) -> Response:
    """Delete a harvest source and the records harvested from it."""
    await service.delete(source_id)
    return Response(status_code=204)


@router.post("/{source_id}/run")
async def run_harvest(service: Harvest, source_id: str) -> Response:
    """Harvest a source now; answers the harvest report."""
    return _json(await service.run(source_id))


@router.get("/{source_id}/reports")
async def list_harvest_reports(
    service: Harvest, source_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> Response:
    """The latest harvest reports of a source, newest first."""
    return _json(await service.reports(source_id, limit))
