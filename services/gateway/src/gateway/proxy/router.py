"""The gateway's public surface: aggregated OpenAPI and docs; unknown paths are 404.

Paths a service owns never reach these routes: :mod:`gateway.proxy.edge` serves them.
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from gateway import __version__
from gateway.deps import proxy
from gateway.openapi.merge import merge_documents
from gateway.proxy.service import ProxyService
from mims_shared.errors import NotFound
from mims_shared.web.contract import load_contract

router = APIRouter()

Service = Annotated[ProxyService, proxy]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.get("/openapi.json", include_in_schema=False)
async def aggregated_openapi(service: Service, request: Request) -> Response:
    """One OpenAPI document for the whole stack: the gateway's own and every service's."""
    docs = await service.documents(request.app.state.settings.health_timeout_s)
    merged = merge_documents(
        docs, title="MIMs stack", version=__version__, own=load_contract("gateway")
    )
    return Response(orjson.dumps(merged), media_type="application/json")


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    """Interactive documentation of the whole stack."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="MIMs stack API")


@router.api_route("/{path:path}", methods=METHODS, include_in_schema=False)
async def nowhere(request: Request) -> Response:
    """A path no service behind the gateway owns."""
    raise NotFound(f"No service behind the gateway serves {request.url.path}")
