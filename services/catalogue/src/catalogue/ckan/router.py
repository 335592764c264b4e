"""The CKAN action API (CKAN 2.10 API guide, "Making an API request"): every action by
GET with query parameters or by POST with a JSON body, answered in CKAN's envelope
(``help``, ``success``, ``result`` or ``error``) so CKAN clients and harvesters read it
unchanged. ``/api/action/...`` is the unversioned alias CKAN also serves.

An action reads its parameters itself (CKAN's own checks and error envelope), so FastAPI's
routing, dependency solving and middleware would only add cost to the hottest read of
the catalogue: GET and POST on the action paths are served by :class:`ActionEdge` inside
the request context alone (request id, trace, access log), failures rendered by the
application's own exception handlers; the two routes below answer the other methods (405)
and serve the actions when the edge is not installed."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from catalogue.ckan.service import CkanService
from catalogue.dcat.ckan import CkanError, validation_error
from mims_shared.errors import DomainError, PayloadTooLarge, ServiceUnavailable
from mims_shared.web.body import read_json
from mims_shared.web.edge import answer_error
from mims_shared.web.lean import REQUEST_CHECKS
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
    for check in REQUEST_CHECKS:  # what every other route gets as dependencies
        await check(request)
    service: CkanService = request.app.state.ckan
    return await _action(service, request, request.path_params["action"])


_PREFIXES = ("/api/3/action/", "/api/action/")


def action_of(scope: Scope) -> str | None:
    """The action a GET or POST on an action path names (what the routes below match)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
        return None
    path: str = scope["path"]
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            action = path[len(prefix) :]
            return action if action and "/" not in action else None
    return None


class ActionEdge:
    """Serves a request :func:`action_of` names, in front of the application's middleware
    and routing; an exception is answered by the handler the application has for it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app
        scope["path_params"] = {"action": action_of(scope)}
        request = Request(scope, receive)
        try:
            response = await ckan_action(request)
        except Exception as exc:
            response = await answer_error(self.app, request, exc)
        await response(scope, receive, send)


router.routes.extend(
    Route(path, ckan_action, methods=["GET", "POST"])
    for path in ("/api/3/action/{action}", "/api/action/{action}")
)
