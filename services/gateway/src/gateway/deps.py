"""Dependencies the routers use."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from gateway.clients.service import ClientService
from gateway.proxy.service import ProxyService
from mims_shared.errors import Forbidden, Unauthenticated
from mims_shared.web.body import json_body

Json = Annotated[Any, json_body("application/json")]
audit = logging.getLogger("mims.audit")


async def _proxy(request: Request) -> ProxyService:
    service: ProxyService = request.app.state.proxy
    return service


async def _clients(request: Request) -> ClientService:
    service: ClientService = request.app.state.clients
    return service


async def _require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """The administration API takes the admin bearer token (``GATEWAY_ADMIN_TOKEN``)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        _denied(request, 401, "The administration API needs a bearer token")
        raise Unauthenticated("The administration API needs a bearer token")
    expected = request.app.state.settings.admin_token.get_secret_value()
    if not hmac.compare_digest(authorization[7:].strip().encode(), expected.encode()):
        _denied(request, 403, "The bearer token does not grant administration rights")
        raise Forbidden("The bearer token does not grant administration rights")


def _denied(request: Request, status: int, reason: str) -> None:
    """The audit line of a refused administration call (as the proxy writes its own)."""
    audit.warning(
        "denied",
        extra={
            "subject": None,
            "method": request.method,
            "path": request.url.path,
            "status": status,
            "reason": reason,
            "tenant": None,
            "address": request.client.host if request.client else "",
        },
    )


proxy = Depends(_proxy)
clients = Depends(_clients)
admin = Depends(_require_admin)
