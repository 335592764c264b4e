"""Small well-behaved fakes of what this branch of the stack does not serve (yet): a TMF
v5 resource server, an NGSI-LD temporal API, a DCAT-AP catalogue with a CKAN action API
and a protected gateway. The honesty tests break them one rule at a time."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VALID_CATALOGUE = """\
@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<https://city.example/catalogue> a dcat:Catalog ;
  dct:title "City catalogue"@en ; dct:description "All the data of the city"@en ;
  dct:publisher <https://city.example/org> ;
  dcat:dataset <https://city.example/dataset/parking> .
<https://city.example/org> a foaf:Agent ; foaf:name "City"@en .
<https://city.example/dataset/parking> a dcat:Dataset ;
  dct:title "Parking spots"@en ; dct:description "Where to park"@en .
"""


def tmf_error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(
        {"@type": "Error", "code": str(status), "reason": reason, "status": str(status)}, status
    )


def tmf_app() -> Starlette:
    """Any ``/tmf-api/<api>/v5/<resource>[/<id>]`` as TMF630 says, kept in memory."""
    store: dict[str, dict[str, dict[str, Any]]] = {}

    async def collection(request: Request) -> Response:
        resource = request.path_params["resource"]
        items = store.setdefault(resource, {})
        if request.method == "GET":
            fields = request.query_params.get("fields")
            out = list(items.values())
            if fields:
                keep = {"id", "href", "@type", *fields.split(",")}
                out = [{k: v for k, v in i.items() if k in keep} for i in out]
            return JSONResponse(out, headers={"X-Total-Count": str(len(items))})
        body = json.loads(await request.body())
        needed = "productOrderItem" if resource == "productOrder" else "name"
        if needed not in body:
            return tmf_error(400, f"{needed} is required")
        rid = uuid.uuid4().hex
        body = {**body, "id": rid, "href": f"{request.url}/{rid}"}
        if resource == "productOrder":
            body["state"] = "acknowledged"
        items[rid] = body
        return JSONResponse(body, 201)

    async def one(request: Request) -> Response:
        items = store.setdefault(request.path_params["resource"], {})
        rid = request.path_params["id"]
        if rid not in items:
            return tmf_error(404, f"{rid} does not exist")
        if request.method == "DELETE":
            del items[rid]
            return Response(status_code=204)
        if request.method == "PATCH":
            items[rid].update(json.loads(await request.body()))
        return JSONResponse(items[rid])

    return Starlette(
        routes=[
            Route("/tmf-api/{api}/v5/{resource}", collection, methods=["GET", "POST"]),
            Route("/tmf-api/{api}/v5/{resource}/{id}", one, methods=["GET", "PATCH", "DELETE"]),
        ]
    )


def temporal_app() -> Starlette:
    """Entities with a history of every Property instance (observedAt) and timerel=after."""
    history: dict[str, dict[str, list[dict[str, Any]]]] = {}

    async def entities(request: Request) -> Response:
        body = json.loads(await request.body())
        history[body["id"]] = {
            k: [v] for k, v in body.items() if isinstance(v, dict) and "value" in v
        }
        return Response(status_code=201, headers={"Location": f"/entities/{body['id']}"})

    async def attrs(request: Request) -> Response:
        for k, v in json.loads(await request.body()).items():
            history[request.path_params["id"]].setdefault(k, []).append(v)
        return Response(status_code=204)

    async def entity(request: Request) -> Response:
        history.pop(request.path_params["id"], None)
        return Response(status_code=204)

    async def temporal_query(request: Request) -> Response:
        return JSONResponse([])

    async def temporal_entity(request: Request) -> Response:
        eid = request.path_params["id"]
        if eid not in history:
            return JSONResponse({"type": "x", "title": "absent"}, 404)
        if request.method == "DELETE":
            return Response(status_code=204)
        after = request.query_params.get("timeAt")
        out: dict[str, Any] = {"id": eid, "type": "T"}
        for k, instances in history[eid].items():
            out[k] = [i for i in instances if not after or i.get("observedAt", "") > after]
        return JSONResponse(out)

    base = "/ngsi-ld/v1"
    return Starlette(
        routes=[
            Route(f"{base}/entities", entities, methods=["POST"]),
            Route(f"{base}/entities/{{id}}/attrs", attrs, methods=["PATCH"]),
            Route(f"{base}/entities/{{id}}", entity, methods=["DELETE"]),
            Route(f"{base}/temporal/entities", temporal_query),
            Route(f"{base}/temporal/entities/{{id}}", temporal_entity, methods=["GET", "DELETE"]),
        ]
    )


def catalogue_app() -> Starlette:
    """``/catalog.ttl`` and the CKAN actions package_list, package_search, package_show."""
    packages = {"parking": {"id": "1d0c", "name": "parking", "title": "Parking spots"}}

    async def catalog(request: Request) -> Response:
        return Response(VALID_CATALOGUE, media_type="text/turtle")

    async def action(request: Request) -> Response:
        name = request.path_params["action"]
        if name == "package_list":
            result: Any = list(packages)
        elif name == "package_search":
            rows = int(request.query_params.get("rows", "10"))
            result = {"count": len(packages), "results": list(packages.values())[:rows]}
        elif name == "package_show" and request.query_params.get("id") in packages:
            result = packages[request.query_params["id"]]
        else:
            error = {"__type": "Not Found Error", "message": "Not found"}
            return JSONResponse({"help": "h", "success": False, "error": error}, 404)
        return JSONResponse({"help": "h", "success": True, "result": result})

    return Starlette(
        routes=[
            Route("/catalog.ttl", catalog),
            Route("/api/3/action/{action}", action),
        ]
    )


def gateway_app(token: str) -> Starlette:
    """Answers data only to ``Bearer <token>``; 401 with WWW-Authenticate otherwise."""

    async def protected(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse(
                {"type": "urn:problem:unauthorized", "title": "Unauthorized", "status": 401},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="city"'},
            )
        return JSONResponse([])

    return Starlette(routes=[Route("/{path:path}", protected)])
