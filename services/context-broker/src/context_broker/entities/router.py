"""NGSI-LD entities over HTTP (ETSI GS CIM 009 V1.8.1, clauses 6.4, 6.5, 6.6, 6.7, 6.23)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from context_broker.deps import (
    BODY_MEDIA_TYPES,
    ENTITY_FILTERS,
    PATCH_MEDIA_TYPES,
    Json,
    JsonPatch,
    Ld,
    LdContext,
    Tenant,
    Visible,
    check_query_body,
    csv,
    dataset_ids,
    entities,
    flag,
    natural,
    read_ld,
    reads_query,
    reject_unknown_query_parameters,
    tenant_of,
    visible_of,
)
from context_broker.entities.links import Join, omitted, parse_join
from context_broker.entities.service import (
    EntityService,
    GeoParams,
    Outcome,
    View,
    expand_name,
)
from context_broker.ngsild.links import link_header
from context_broker.ngsild.media import GEOJSON, JSONLD, choose_response_type, to_feature
from context_broker.ngsild.representation import (
    parse_options,
    parse_projection,
    parse_projection_tree,
)
from mims_shared.errors import BadRequestData, InvalidRequest, MethodNotAllowed
from mims_shared.web.body import request_json
from mims_shared.web.lean import LeanRoute

router = APIRouter(
    prefix="/ngsi-ld/v1",
    dependencies=[Depends(reject_unknown_query_parameters)],
    route_class=LeanRoute,  # the request-only endpoints skip FastAPI's resolution
)

Service = Annotated[EntityService, entities]
Accept = Annotated[str | None, Header()]
NonNegative = Annotated[int, Query(ge=0)]


def _answer(
    body: Any,
    ld: Ld,
    accept: str | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    geometry_property: str | None = None,
) -> Response:
    """The entity (or list) in the media type asked for: JSON with a Link header, JSON-LD
    with an @context member, or GeoJSON (6.3.6, 6.3.15)."""
    media = choose_response_type(accept)
    headers = dict(headers or {})
    context = ld.value if ld.value is not None else ld.link_url
    if media == GEOJSON:
        gp = geometry_property or "location"
        if isinstance(body, list):
            body = {"type": "FeatureCollection", "features": [to_feature(e, gp) for e in body]}
        else:
            body = to_feature(body, gp)
        body["@context"] = context
    elif media == JSONLD:
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        else:
            body = {**body, "@context": context}
    else:
        headers["Link"] = link_header(ld.link_url)
    return Response(orjson.dumps(body), status, headers, media_type=media)


def _outcome(outcome: Outcome) -> Response:
    """204 when everything was done, else 207 with what was and was not (6.6.3.1)."""
    if not outcome.not_updated:
        return Response(status_code=204)
    body = {
        "updated": outcome.updated,
        "notUpdated": [{"attributeName": n, "reason": r} for n, r in outcome.not_updated],
    }
    return Response(orjson.dumps(body), 207, media_type="application/json")


def _view(
    ld: Ld,
    options: str | None,
    format_: str | None,
    attrs: str | None,
    pick: str | None,
    omit: str | None,
    lang: str | None = None,
    dataset_id: str | None = None,
    visible: frozenset[str] | None = None,
) -> View:
    fmt, sys_attrs = parse_options(options, format_)
    if pick and omit:
        raise BadRequestData("pick and omit cannot be used together")
    if attrs and (pick or omit):
        raise BadRequestData("attrs cannot be used together with pick or omit")
    attr_list = csv(attrs)
    return View(
        fmt=fmt,
        sys_attrs=sys_attrs,
        attrs=frozenset(expand_name(ld.compiled, a) for a in attr_list) if attr_list else None,
        pick=parse_projection(pick, "pick") if pick is not None else None,
        omit=omitted(parse_projection_tree(omit, "omit")) if omit is not None else None,
        lang=lang or None,
        dataset_ids=dataset_ids(dataset_id),
        visible=visible,
    )


def _join(join: Any, join_level: Any, pick: str | None, omit: str | None) -> Join | None:
    """The ``join``/``joinLevel`` parameters (4.5.23), with the projections of linked entities."""
    return parse_join(
        join,
        join_level,
        parse_projection_tree(pick, "pick") if pick is not None else None,
        parse_projection_tree(omit, "omit") if omit is not None else None,
    )


def _is_expression(types: str | None) -> bool:
    """A type parameter with ``;``, ``|`` or parentheses is a selector (4.17)."""
    return types is not None and any(c in types for c in ";|()")


@dataclass(frozen=True, slots=True)
class Shape:
    """How the reader wants the entities of a Retrieve or Query (5.7.1, 5.7.2): the view,
    linked entities, the attrs asked for, the GeoJSON geometry, local mode."""

    view: View
    join: Join | None
    attrs: list[str] | None
    geometry_property: str | None
    local: bool
    accept: str | None
    tenant: str
    ld: Ld


@reads_query(
    "attrs",
    "pick",
    "omit",
    "options",
    "format",
    "lang",
    "geometryProperty",
    "datasetId",
    "local",
    "join",
    "joinLevel",
    "containedBy",  # one broker, no distributed operations to loop through: ignored
)
async def _shape(request: Request) -> Shape:
    """The parameters both read operations share, checked once (an unacceptable Accept first:
    406 before any other work), with the tenant and the @context: one dependency, as each
    one FastAPI resolves costs several microseconds per request."""
    accept = request.headers.get("accept")
    choose_response_type(accept)
    tenant = tenant_of(request)
    ld = await read_ld(request)
    visible = visible_of(request)
    p = request.query_params
    attrs, pick, omit = p.get("attrs"), p.get("pick"), p.get("omit")
    view = _view(
        ld,
        p.get("options"),
        p.get("format"),
        attrs,
        pick,
        omit,
        p.get("lang"),
        p.get("datasetId"),
        visible,
    )
    return Shape(
        view=view,
        join=_join(p.get("join"), p.get("joinLevel"), pick, omit),
        attrs=csv(attrs),
        geometry_property=p.get("geometryProperty"),
        local=flag(p, "local"),
        accept=accept,
        tenant=tenant,
        ld=ld,
    )


def _count_header(total: int | None) -> dict[str, str]:
    return {"NGSILD-Results-Count": str(total)} if total is not None else {}


@router.post("/entities", status_code=201)
async def create_entity(request: Request) -> Response:
    """Create Entity (5.6.1; HTTP binding 6.4.3.1)."""
    service: EntityService = request.app.state.entities
    tenant = tenant_of(request)
    body = await request_json(request, BODY_MEDIA_TYPES)
    if not isinstance(body, dict):  # e.g. [] (ETSI test 001_02_02): not an entity at all
        raise InvalidRequest("The request body must be a JSON object: the entity to create")
    ld = await read_ld(request, body)
    eid = await service.create(tenant, body, ld.compiled, context_in_body=ld.in_body)
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{eid}"})


@router.patch("/entities", status_code=400)
@router.put("/entities", status_code=400)
async def entity_without_id() -> Response:
    """Merge or Replace Entity without an entity id in the path (6.5.3): 400."""
    raise BadRequestData("The entity id is missing from the path /ngsi-ld/v1/entities/{entityId}")


@router.delete("/entities", status_code=204)
async def purge_entities(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    id: str | None = None,
    idPattern: str | None = None,
    type: str | None = None,
    q: str | None = None,
    keep: str | None = None,
    drop: str | None = None,
    local: bool = False,
) -> Response:
    """Purge Entities (V1.8.1 5.6.22 Delete/Purge Entities; HTTP binding 6.4.3.3)."""
    await service.purge(
        tenant,
        ld.compiled,
        everything=local,  # local=true alone purges every local entity (ETSI 060_03_02)
        ids=csv(id),
        id_pattern=idPattern,
        types=csv(type),
        q=q,
        keep=csv(keep),
        drop=csv(drop),
    )
    return Response(status_code=204)


@router.get("/entities")
@reads_query(*ENTITY_FILTERS, *_shape.query_names)  # type: ignore[attr-defined]
async def query_entities(request: Request) -> Response:
    """Query Entities (5.7.2; HTTP binding 6.4.3.2; geo-queries 4.10; joins 4.5.23)."""
    shape = await _shape(request)
    service: EntityService = request.app.state.entities
    p = request.query_params
    type_ = p.get("type")
    found, total = await service.query(
        shape.tenant,
        shape.ld.compiled,
        shape.view,
        everything=shape.local,  # local=true alone asks for every local entity (5.7.2)
        ids=csv(p.get("id")),
        id_pattern=p.get("idPattern"),
        types=None if _is_expression(type_) else csv(type_),
        type_expr=type_ if _is_expression(type_) else None,
        scope_q=p.get("scopeQ"),
        attrs=shape.attrs,
        q=p.get("q"),
        offset=natural(p, "offset", 0),
        limit=natural(p, "limit", 20),
        count=flag(p, "count"),
        geo=GeoParams.from_query(p),
        join=shape.join,
    )
    return _answer(
        found,
        shape.ld,
        shape.accept,
        headers=_count_header(total),
        geometry_property=shape.geometry_property,
    )


@router.post("/entityOperations/query")
async def query_entities_post(
    service: Service,
    tenant: Tenant,
    body: Json,
    request: Request,
    visible: Visible,
    accept: Accept = None,
    limit: NonNegative = 20,
    offset: NonNegative = 0,
    count: bool = False,
    options: str | None = None,
    format: str | None = None,
    lang: str | None = None,
) -> Response:
    """Query Entities via POST (5.7.2; HTTP binding 6.23.3.1)."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('The body must be a Query object with "type": "Query"')
    ld = await read_ld(request, body)
    entities_, attrs = check_query_body(body, strings=("q",))
    geo_q = body.get("geoQ")
    if geo_q is not None and not (
        isinstance(geo_q, dict)
        and all(isinstance(geo_q.get(k, ""), str) for k in ("georel", "geometry", "geoproperty"))
        and isinstance(geo_q.get("coordinates", ""), str | list)
    ):
        raise BadRequestData(
            "geoQ must be a GeoQuery object: georel, geometry and geoproperty strings, "
            "coordinates an array"
        )
    ids = [s["id"] for s in entities_ if "id" in s] or None
    # Each EntitySelector's type may itself be a selector (4.17); selectors are alternatives.
    selected = [s["type"] for s in entities_ if "type" in s]
    type_expr = "|".join(f"({t})" for t in selected) if selected else None
    patterns = [s["idPattern"] for s in entities_ if "idPattern" in s]
    attr_names = ",".join(attrs) if attrs else None
    view = _view(ld, options, format, attr_names, None, None, lang, visible=visible)
    join_ = _join(body.get("join"), body.get("joinLevel"), None, None)
    found, total = await service.query(
        tenant,
        ld.compiled,
        view,
        ids=ids,
        id_pattern=patterns[0] if patterns else None,
        types=None,
        type_expr=type_expr,
        attrs=attrs,
        q=body.get("q"),
        offset=offset,
        limit=limit,
        count=count,
        geo=GeoParams(
            geo_q.get("georel"),
            geo_q.get("geometry"),
            geo_q.get("coordinates"),
            geo_q.get("geoproperty"),
        )
        if geo_q is not None
        else None,
        join=join_,
    )
    return _answer(found, ld, accept, headers=_count_header(total))


@router.post("/entities/{entity_id:id}/attrs")
async def append_attributes(
    service: Service,
    tenant: Tenant,
    entity_id: str,
    body: Json,
    request: Request,
    options: str | None = None,
) -> Response:
    """Append Entity Attributes (5.6.3; HTTP binding 6.6.3.1)."""
    ld = await read_ld(request, body)
    no_overwrite = "noOverwrite" in (csv(options) or [])
    return _outcome(
        await service.append_attrs(tenant, entity_id, body, ld.compiled, no_overwrite=no_overwrite)
    )


@router.patch("/entities/{entity_id:id}/attrs")
async def update_attributes(request: Request) -> Response:
    """Update Entity Attributes (5.6.2; HTTP binding 6.6.3.2)."""
    service: EntityService = request.app.state.entities
    tenant = tenant_of(request)
    body = await request_json(request, PATCH_MEDIA_TYPES)
    ld = await read_ld(request, body)
    entity_id = request.path_params["entity_id"]
    return _outcome(await service.update_attrs(tenant, entity_id, body, ld.compiled))


@router.api_route("/entities/{entity_id:id}/attrs", methods=["GET", "PUT", "DELETE"])
@reads_query("datasetId", "deleteAll", "options", "attrs", "type")
async def attributes_without_a_name(entity_id: str) -> Response:
    """``.../attrs`` serves POST (Append) and PATCH (Update) only (6.6.3): any other method,
    e.g. Delete Attribute without the attribute's name, is 405 (ETSI test 013_02_03),
    rather than a request about an entity whose id would end in ``/attrs``."""
    raise MethodNotAllowed(
        f"/ngsi-ld/v1/entities/{entity_id[:200]}/attrs allows POST and PATCH only",
        allowed=["POST", "PATCH"],
    )


@router.patch("/entities/{entity_id:id}/attrs/{attr_id}")
async def partial_attribute_update(
    service: Service,
    tenant: Tenant,
    entity_id: str,
    attr_id: str,
    body: JsonPatch,
    request: Request,
) -> Response:
    """Partial Attribute Update (5.6.4; HTTP binding 6.7.3.1)."""
    ld = await read_ld(request, body)
    await service.partial_update_attr(tenant, entity_id, attr_id, body, ld.compiled)
    return Response(status_code=204)


@router.put("/entities/{entity_id:id}/attrs/{attr_id}")
async def replace_attribute(
    service: Service, tenant: Tenant, entity_id: str, attr_id: str, body: Json, request: Request
) -> Response:
    """Replace Attribute (5.6.19; HTTP binding 6.7.3.3)."""
    ld = await read_ld(request, body)
    await service.replace_attr(tenant, entity_id, attr_id, body, ld.compiled)
    return Response(status_code=204)


@router.delete("/entities/{entity_id:id}/attrs/{attr_id}", status_code=204)
async def delete_attribute(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    entity_id: str,
    attr_id: str,
    datasetId: str | None = None,
    deleteAll: bool = False,
) -> Response:
    """Delete Entity Attribute (5.6.5; HTTP binding 6.7.3.2)."""
    await service.delete_attr(
        tenant, entity_id, attr_id, dataset_id=datasetId, delete_all=deleteAll, ctx=ld.compiled
    )
    return Response(status_code=204)


@router.get("/entities/{entity_id:id}")
@reads_query(*_shape.query_names)  # type: ignore[attr-defined]
async def retrieve_entity(request: Request) -> Response:
    """Retrieve Entity (5.7.1; HTTP binding 6.5.3.1; joins 4.5.23); ``local`` changes
    nothing here: one broker, no context sources."""
    shape = await _shape(request)
    service: EntityService = request.app.state.entities
    entity = await service.retrieve(
        shape.tenant, request.path_params["entity_id"], shape.ld.compiled, shape.view, shape.join
    )
    return _answer(entity, shape.ld, shape.accept, geometry_property=shape.geometry_property)


@router.patch("/entities/{entity_id:id}", status_code=204)
async def merge_entity(
    service: Service, tenant: Tenant, entity_id: str, body: JsonPatch, request: Request
) -> Response:
    """Merge Entity (5.6.17; HTTP binding 6.5.3.4)."""
    ld = await read_ld(request, body)
    await service.merge(tenant, entity_id, body, ld.compiled)
    return Response(status_code=204)


@router.put("/entities/{entity_id:id}", status_code=204)
async def replace_entity(
    service: Service, tenant: Tenant, entity_id: str, body: Json, request: Request
) -> Response:
    """Replace Entity (5.6.18; HTTP binding 6.5.3.3)."""
    ld = await read_ld(request, body)
    await service.replace(tenant, entity_id, body, ld.compiled, context_in_body=ld.in_body)
    return Response(status_code=204)


@router.delete("/entities/{entity_id:id}", status_code=204)
async def delete_entity(service: Service, tenant: Tenant, entity_id: str) -> Response:
    """Delete Entity (5.6.6; HTTP binding 6.5.3.2)."""
    await service.delete(tenant, entity_id)
    return Response(status_code=204)
