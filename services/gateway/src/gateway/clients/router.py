"""The gateway's administration API: API clients."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from gateway.clients.service import ClientService
from gateway.deps import Json, admin, clients

router = APIRouter(prefix="/gateway/v1", dependencies=[admin])

Service = Annotated[ClientService, clients]


@router.post("/clients", status_code=201)
async def register_client(service: Service, body: Json) -> Response:
    """Register an API client; the answer holds its API key, shown this once."""
    created = await service.register(body)
    return Response(
        orjson.dumps(created),
        201,
        {"Location": f"/gateway/v1/clients/{created['id']}"},
        media_type="application/json",
    )


@router.get("/clients/{client_id}")
async def retrieve_client(service: Service, client_id: str) -> Response:
    """Read an API client (never its key)."""
    return Response(orjson.dumps(await service.get(client_id)), media_type="application/json")
