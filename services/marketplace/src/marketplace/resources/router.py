"""One router factory for every TMF resource (TMF630 part 1 operation patterns).

For a kind it serves ``POST /{kind}``, ``GET /{kind}`` (``fields``, attribute filters,
``offset``/``limit`` with ``X-Total-Count``/``X-Result-Count``), ``GET /{kind}/{id}``,
``PATCH /{kind}/{id}`` (``application/merge-patch+json``) and ``DELETE /{kind}/{id}`` —
the operations its kind declares. The hub router serves ``POST /hub`` and
``DELETE /hub/{id}`` of one API (TMF630 part 2).
"""

# No `from __future__ import annotations`: the endpoints below are closures, and FastAPI
# must see their annotations evaluated (a local `Service` cannot be resolved later).

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from marketplace.deps import Json, MergePatch, json_response
from marketplace.events.service import HubService
from marketplace.resources.service import ResourceService
from marketplace.tmf.fields import select_fields, selector
from marketplace.tmf.kinds import Api, Kind

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def resource_router(kind: Kind) -> APIRouter:
    """The routes of one resource kind, named and documented after its operations."""
    router = APIRouter(prefix=kind.api.prefix)
    spec = f"{kind.api.number} v5.0.0"

    async def lookup(request: Request) -> ResourceService:
        found: ResourceService = request.app.state.resources[kind.name]
        return found

    Service = Annotated[ResourceService, Depends(lookup)]
    path = f"/{kind.name}"

    async def create(service: Service, body: Json, fields: str | None = None) -> Response:
        created = await service.create(body)
        return json_response(select_fields(created, fields), 201, {"Location": created["href"]})

    async def listing(
        request: Request,
        service: Service,
        fields: str | None = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Response:
        items, total = await service.page(request.query_params.multi_items(), offset, limit)
        headers = {"X-Total-Count": str(total), "X-Result-Count": str(len(items))}
        select = selector(fields)
        return json_response([select(i) for i in items], 200, headers)

    async def retrieve(service: Service, id: str, fields: str | None = None) -> Response:
        return json_response(select_fields(await service.get(id), fields))

    async def patch(
        service: Service, id: str, body: MergePatch, fields: str | None = None
    ) -> Response:
        return json_response(select_fields(await service.patch(id, body), fields))

    async def delete(service: Service, id: str) -> Response:
        await service.delete(id)
        return Response(status_code=204)

    t = kind.title
    routes: dict[str, tuple[str, Callable[..., Any], str, int, str]] = {
        "create": (path, create, "POST", 201, f"Creates a {t} ({spec}, create{t})."),
        "list": (path, listing, "GET", 200, f"Lists or finds {t} objects ({spec}, list{t})."),
        "retrieve": (
            path + "/{id}",
            retrieve,
            "GET",
            200,
            f"Retrieves a {t} by id ({spec}, retrieve{t}).",
        ),
        "patch": (
            path + "/{id}",
            patch,
            "PATCH",
            200,
            f"Updates partially a {t} ({spec}, patch{t}).",
        ),
        "delete": (path + "/{id}", delete, "DELETE", 204, f"Deletes a {t} ({spec}, delete{t})."),
    }
    for operation in kind.operations:
        route_path, endpoint, method, status, doc = routes[operation]
        endpoint.__doc__ = doc
        router.add_api_route(
            route_path,
            endpoint,
            methods=[method],
            status_code=status,
            name=f"{operation}{t}",
        )
    return router


def hub_router(api: Api) -> APIRouter:
    """``POST /hub`` and ``DELETE /hub/{id}`` of one API (TMF630 part 2, "Notifications")."""
    router = APIRouter(prefix=api.prefix)

    async def lookup(request: Request) -> HubService:
        found: HubService = request.app.state.hubs[api.path]
        return found

    Service = Annotated[HubService, Depends(lookup)]

    async def create_hub(service: Service, body: Json) -> Response:
        hub = await service.create(body)
        return json_response(hub, 201, {"Location": hub["href"]})

    async def delete_hub(service: Service, id: str) -> Response:
        await service.delete(id)
        return Response(status_code=204)

    create_hub.__doc__ = f"Registers a listener ({api.number} v5.0.0, createHub)."
    delete_hub.__doc__ = f"Unregisters a listener ({api.number} v5.0.0, hubDelete)."
    router.add_api_route("/hub", create_hub, methods=["POST"], status_code=201)
    router.add_api_route("/hub/{id}", delete_hub, methods=["DELETE"], status_code=204)
    return router
