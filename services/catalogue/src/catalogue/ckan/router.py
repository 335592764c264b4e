"""The CKAN action API (CKAN 2.10 API guide, "Making an API request"): every action by
GET with query parameters or by POST with a JSON body, answered in CKAN's envelope
(``help``, ``success``, ``result`` or ``error``) so CKAN clients and harvesters read it
unchanged. ``/api/action/...`` is the unversioned alias CKAN also serves.

The two routes are plain Starlette routes: an action reads its parameters itself (CKAN's
own checks and error envelope), so FastAPI's per-request dependency solving would only
add cost (about a tenth of a search's CPU time, measured)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from catalogue.ckan.service import CkanService
from catalogue.dcat.ckan import CkanError, validation_error
from mims_shared.errors import DomainError, PayloadTooLarge, ServiceUnavailable
from mims_shared.web.body import read_json, reject_nul_in_url
from mims_shared.web.problems import status_of

router = APIRouter()

ACTIONS = (
    "package_search",
    "package_show",
    "package_list",
    "current_package_list_with_resources",
    "organization_list",
    "organization_show",
    "status_show",
)


def _envelope(body: dict[str, Any], status: int) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST" and request.headers.get("content-length") not in (None, "0"):
        settings = request.app.state.settings
        body = await read_json(
            request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
        )
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object")
        params.update(body)
    return params


async def _action(service: CkanService, request: Request, action: str) -> Response:
    help_url = f"{service.base}/api/3/action/help_show?name={action}"
    try:
        if action not in ACTIONS:
            raise CkanError("Not Found Error", f"Action {action[:100]} does not exist", 400)
        params = await _params(request)
        result = await getattr(service, action)(params)
    except CkanError as exc:
        error = {"__type": exc.kind, "message": exc.message}
        return _envelope({"help": help_url, "success": False, "error": error}, exc.status)
    except DomainError as exc:
        if isinstance(exc, ServiceUnavailable):
            raise
        status = status_of(exc) if isinstance(exc, PayloadTooLarge) else 409
        error = {"__type": "Validation Error", "message": exc.detail}
        return _envelope({"help": help_url, "success": False, "error": error}, status)
    return _envelope({"help": help_url, "success": True, "result": result}, 200)


async def ckan_action(request: Request) -> Response:
    """A CKAN action (CKAN 2.10 action API, ckan.logic.action.get), at either path."""
    await reject_nul_in_url(request)  # what every other route gets as a dependency
    service: CkanService = request.app.state.ckan
    return await _action(service, request, request.path_params["action"])


router.routes.extend(
    Route(path, ckan_action, methods=["GET", "POST"])
    for path in ("/api/3/action/{action}", "/api/action/{action}")
)
