"""The gateway's administration API: API clients, signing keys, entitlement events."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.clients.service import ClientService
from gateway.deps import Json, admin, clients
from gateway.identity.tokens import BuiltInIssuer
from mims_shared.errors import NotFound

router = APIRouter(prefix="/gateway/v1", dependencies=[admin])
events = APIRouter(prefix="/gateway/v1")

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


@router.delete("/clients/{client_id}", status_code=204)
async def revoke_client(service: Service, client_id: str) -> Response:
    """Revoke an API client: its key stops working and it gets no new tokens."""
    await service.revoke(client_id)
    return Response(status_code=204)


def _issuer(request: Request) -> BuiltInIssuer:
    issuer: BuiltInIssuer | None = request.app.state.issuer
    if issuer is None:
        raise NotFound("The gateway's own token issuer is switched off")
    return issuer


@router.post("/signing-keys", status_code=201)
async def rotate_signing_key(request: Request) -> Response:
    """Rotate: a new key signs from now on; older keys stay published until retired."""
    kid = await _issuer(request).keys.rotate()
    return Response(orjson.dumps({"kid": kid}), 201, media_type="application/json")


@router.delete("/signing-keys/{kid}", status_code=204)
async def retire_signing_key(request: Request, kid: str) -> Response:
    """Retire a key: tokens it signed are no longer accepted."""
    await _issuer(request).keys.retire(kid)
    return Response(status_code=204)


@events.post("/listener/entitlements", status_code=204)
async def entitlements_changed(request: Request, body: Json) -> Response:
    """TMF event listener: the marketplace reports changed entitlements (or products, orders).

    The event only makes the gateway forget what it cached and ask the marketplace again,
    so it needs no credentials: it can never grant anything by itself (TMF630 hub
    listener: any event body is accepted).
    """
    del body  # whatever changed, every party's entitlements are asked for again
    request.app.state.entitlements.forget()
    return Response(status_code=204)
