"""The catalogue's JSON API for datasets."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from catalogue.datasets.service import DatasetService
from catalogue.deps import Json, datasets

router = APIRouter(prefix="/catalogue/v1")

Service = Annotated[DatasetService, datasets]


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


@router.post("/datasets", status_code=201)
async def create_dataset(service: Service, body: Json) -> Response:
    """Create a dataset record (DCAT-AP 3.0.1, class dcat:Dataset)."""
    created = await service.create(body)
    return _json(created, 201, {"Location": created["uri"]})


@router.get("/datasets")
async def list_datasets(
    service: Service,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """List dataset records, most recently modified first."""
    items, total = await service.page(offset, limit)
    return _json({"total": total, "offset": offset, "limit": limit, "items": items})


@router.get("/datasets/{dataset_id}")
async def retrieve_dataset(service: Service, dataset_id: str) -> Response:
    """Read one dataset record."""
    return _json(await service.get(dataset_id))


@router.delete("/datasets/{dataset_id}", status_code=204)
async def delete_dataset(service: Service, dataset_id: str) -> Response:
    """Delete one dataset record."""
    await service.delete(dataset_id)
    return Response(status_code=204)
