"""The temporal API over HTTP (ETSI GS CIM 009 V1.8.1, clauses 6.18 to 6.22)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from context_broker.deps import (
    ENTITY_FILTERS,
    Json,
    JsonPatch,
    Ld,
    LdContext,
    Tenant,
    Visible,
    check_query_body,
    csv,
    dataset_ids,
    flag,
    natural,
    read_ld,
    reads_query,
    reject_unknown_query_parameters,
    tenant_of,
    visible_of,
)
from context_broker.entities.service import GeoParams, expand_name
from context_broker.ngsild.flags import json_media_type
from context_broker.ngsild.ids import is_valid_name
from context_broker.ngsild.links import link_header
from context_broker.ngsild.media import JSONLD
from context_broker.ngsild.representation import parse_projection
from context_broker.ngsild.temporal import (
    TemporalQuery,
    parse_aggr_methods,
    parse_duration,
    parse_temporal_query,
)
from context_broker.temporal.service import TemporalService, TemporalView
from mims_shared.errors import BadRequestData, InvalidRequest

router = APIRouter(
    prefix="/ngsi-ld/v1/temporal", dependencies=[Depends(reject_unknown_query_parameters)]
)


async def _service(request: Request) -> TemporalService:
    service: TemporalService = request.app.state.temporal
    return service


Service = Annotated[TemporalService, Depends(_service)]
Accept = Annotated[str | None, Header()]
NonNegative = Annotated[int, Query(ge=0)]

_FORMATS = {
    "normalized": "normalized",
    "temporalValues": "temporalValues",
    "simplified": "temporalValues",
    "keyValues": "temporalValues",
    "aggregatedValues": "aggregatedValues",
}


def _representation(options: str | None, format_: str | None) -> tuple[str, bool]:
    """The temporal representation and sysAttrs from ``options`` and ``format`` (6.3.12);
    ``format`` wins over the representation named in ``options``."""
    chosen: list[str] = []
    sys_attrs = False
    for opt in csv(options) or []:
        if opt == "sysAttrs":
            sys_attrs = True
        elif opt in _FORMATS:
            chosen.append(_FORMATS[opt])
        elif opt != "concise":
            raise InvalidRequest(f"Unknown option {opt[:40]!r} in the options parameter")
    if format_ is not None:
        if format_ not in _FORMATS:
            raise InvalidRequest(f"Unknown format {format_[:40]!r}")
        return _FORMATS[format_], sys_attrs
    if len(set(chosen)) > 1:
        raise InvalidRequest("The options ask for more than one representation")
    return (chosen[0] if chosen else "normalized"), sys_attrs


def temporal_view(
    ld: Ld,
    *,
    options: str | None,
    format_: str | None,
    attrs: list[str] | None,
    pick: str | None = None,
    omit: str | None = None,
    lang: str | None = None,
    dataset_id: str | None = None,
    aggr_methods: Any = None,
    aggr_period: Any = None,
    visible: frozenset[str] | None = None,
) -> TemporalView:
    """The checked view parameters of a temporal read."""
    fmt, sys_attrs = _representation(options, format_)
    if pick and omit:
        picked, omitted = parse_projection(pick, "pick"), parse_projection(omit, "omit")
        if picked & omitted:
            raise BadRequestData("pick and omit name the same member")
    if attrs and (pick or omit):
        raise BadRequestData("attrs cannot be used together with pick or omit")
    for a in attrs or []:
        if not is_valid_name(a):
            raise BadRequestData(f"{a[:200]!r} is not a valid attribute name")
    methods: tuple[str, ...] = ()
    period = None
    if fmt == "aggregatedValues":
        methods = tuple(parse_aggr_methods(aggr_methods))
        if aggr_period not in (None, ""):
            period = parse_duration(aggr_period)
    elif aggr_period not in (None, ""):
        parse_duration(aggr_period)  # checked even when unused
    return TemporalView(
        fmt=fmt,
        sys_attrs=sys_attrs,
        attrs=[expand_name(ld.compiled, a) for a in attrs] if attrs else None,
        dataset_ids=dataset_ids(dataset_id),
        pick=parse_projection(pick, "pick") if pick else None,
        omit=parse_projection(omit, "omit") if omit else None,
        lang=lang or None,
        aggr_methods=methods,
        aggr_period=period,
        visible=visible,
    )


def _answer(
    body: Any, ld: Ld, accept: str | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON with a Link header, or JSON-LD with an @context member (6.3.6)."""
    media = json_media_type(accept)
    headers = dict(headers or {})
    context = ld.value if ld.value is not None else ld.link_url
    if media == JSONLD:
        if isinstance(body, list):
            body = [{**item, "@context": context} for item in body]
        else:
            body = {**body, "@context": context}
    else:
        media = "application/json"
        headers["Link"] = link_header(ld.link_url)
    return Response(orjson.dumps(body), status, headers, media_type=media)


def _paged(page: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    """206 with a Content-Range when the history was cut (6.3.10)."""
    headers = dict(headers or {})
    if page.truncated:
        headers["Content-Range"] = page.content_range
        return 206, headers
    return 200, headers


def _count_header(total: int | None) -> dict[str, str]:
    return {"NGSILD-Results-Count": str(total)} if total is not None else {}


def _is_expression(types: str | None) -> bool:
    return types is not None and any(c in types for c in ";|()")


@router.post("/entities", status_code=201)
async def upsert_temporal(
    service: Service, tenant: Tenant, body: Json, request: Request, local: bool = False
) -> Response:
    """Create or Update Temporal Representation of an Entity (5.6.11; binding 6.18.3.1)."""
    del local
    ld = await read_ld(request, body)
    created = await service.upsert(tenant, body, ld.compiled, context_in_body=ld.in_body)
    if not created:
        return Response(status_code=204)
    eid = body["id"] if "id" in body else body.get("@id")
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/temporal/entities/{eid}"})


@dataclass(frozen=True, slots=True)
class TemporalRead:
    """What both temporal reads (5.7.3, 5.7.4) take from a request, checked once: the
    tenant, the @context, the Accept header, the view and the temporal query."""

    tenant: str
    ld: Ld
    accept: str | None
    view: TemporalView
    query: TemporalQuery
    attrs: list[str] | None
    local: bool


@reads_query(
    "attrs",
    "timeproperty",
    "timerel",
    "timeAt",
    "endTimeAt",
    "lastN",
    "lang",
    "aggrMethods",
    "aggrPeriodDuration",
    "options",
    "format",
    "pick",
    "omit",
    "datasetId",
    "local",
)
async def _temporal_read(request: Request) -> TemporalRead:
    """The parameters both temporal reads share, read from the request in one dependency
    (as Query Entities does: FastAPI costs microseconds per declared parameter); an
    unacceptable Accept first (406), before any other work."""
    accept = request.headers.get("accept")
    json_media_type(accept)
    tenant = tenant_of(request)
    ld = await read_ld(request)
    p = request.query_params
    tq = parse_temporal_query(
        p.get("timerel"), p.get("timeAt"), p.get("endTimeAt"), p.get("timeproperty"), p.get("lastN")
    )
    attrs = csv(p.get("attrs"))
    view = temporal_view(
        ld,
        options=p.get("options"),
        format_=p.get("format"),
        attrs=attrs,
        pick=p.get("pick"),
        omit=p.get("omit"),
        lang=p.get("lang"),
        dataset_id=p.get("datasetId"),
        aggr_methods=p.get("aggrMethods"),
        aggr_period=p.get("aggrPeriodDuration"),
        visible=visible_of(request),
    )
    return TemporalRead(tenant, ld, accept, view, tq, attrs, flag(p, "local"))


Read = Annotated[TemporalRead, Depends(_temporal_read)]


@router.get("/entities")
@reads_query(
    *ENTITY_FILTERS,
    "csf",  # context source filter: one broker, no context sources
    "orderBy",
)
async def query_temporal(service: Service, read: Read, request: Request) -> Response:
    """Query Temporal Evolution of Entities (5.7.4; binding 6.18.3.2): the filters of Query
    Entities (5.7.2) with a temporal query (4.11)."""
    p = request.query_params
    descending = _descending(p.get("orderBy"))
    type_ = p.get("type")
    found, total, page = await service.query(
        read.tenant,
        read.ld.compiled,
        read.view,
        read.query,
        ids=csv(p.get("id")),
        id_pattern=p.get("idPattern"),
        types=None if _is_expression(type_) else csv(type_),
        type_expr=type_ if _is_expression(type_) else None,
        attrs=read.attrs,
        q=p.get("q"),
        scope_q=p.get("scopeQ"),
        geo=GeoParams.from_query(p),
        offset=natural(p, "offset", 0),
        limit=natural(p, "limit", 20),
        count=flag(p, "count"),
        everything=read.local,
        descending=descending,
    )
    status, headers = _paged(page, _count_header(total))
    return _answer(found, read.ld, read.accept, status, headers)


def _descending(order_by: str | None) -> bool:
    """``orderBy`` of a temporal query (5.7.4.4): only the entity id, ascending or not."""
    if order_by is None or order_by in ("id", "id;asc"):
        return False
    if order_by == "id;desc":
        return True
    raise BadRequestData("A temporal query can only be ordered by id (orderBy=id or id;desc)")


def _temporal_q(body: dict[str, Any]) -> TemporalQuery:
    tq = body.get("temporalQ")
    if tq is None:
        return parse_temporal_query()
    if not isinstance(tq, dict):
        raise BadRequestData("temporalQ must be a TemporalQuery object")
    return parse_temporal_query(
        tq.get("timerel"),
        tq.get("timeAt"),
        tq.get("endTimeAt"),
        tq.get("timeproperty"),
        tq.get("lastN"),
    )


@router.post("/entityOperations/query")
async def query_temporal_post(
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
    local: bool = False,
) -> Response:
    """Query Temporal Evolution of Entities via POST (5.7.4; binding 6.22.3.1)."""
    json_media_type(accept)
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData('The body must be a Query object with "type": "Query"')
    ld = await read_ld(request, body)
    entities_, attrs = check_query_body(body, strings=("q", "scopeQ", "lang"))
    geo_q = body.get("geoQ")
    if geo_q is not None and not (
        isinstance(geo_q, dict)
        and all(isinstance(geo_q.get(k, ""), str) for k in ("georel", "geometry", "geoproperty"))
        and isinstance(geo_q.get("coordinates", ""), str | list)
    ):
        raise BadRequestData("geoQ must be a GeoQuery object")
    aggr = body.get("aggrParams") or {}
    if not isinstance(aggr, dict):
        raise BadRequestData("aggrParams must be an object")
    tq = _temporal_q(body)
    view = temporal_view(
        ld,
        options=options,
        format_=format,
        attrs=attrs,
        lang=lang or body.get("lang"),
        aggr_methods=aggr.get("aggrMethods"),
        aggr_period=aggr.get("aggrPeriodDuration"),
        visible=visible,
    )
    ids = [s["id"] for s in entities_ if "id" in s] or None
    selected = [s["type"] for s in entities_ if "type" in s]
    patterns = [s["idPattern"] for s in entities_ if "idPattern" in s]
    found, total, page = await service.query(
        tenant,
        ld.compiled,
        view,
        tq,
        ids=ids,
        id_pattern=patterns[0] if patterns else None,
        types=None,
        type_expr="|".join(f"({t})" for t in selected) if selected else None,
        attrs=attrs,
        q=body.get("q"),
        scope_q=body.get("scopeQ"),
        geo=GeoParams(
            geo_q.get("georel"),
            geo_q.get("geometry"),
            geo_q.get("coordinates"),
            geo_q.get("geoproperty"),
        )
        if geo_q is not None
        else None,
        offset=offset,
        limit=limit,
        count=count,
        everything=local,
    )
    status, headers = _paged(page, _count_header(total))
    return _answer(found, ld, accept, status, headers)


@router.post("/entities/{entity_id:id}/attrs", status_code=204)
async def append_temporal(
    service: Service,
    tenant: Tenant,
    entity_id: str,
    body: Json,
    request: Request,
    local: bool = False,
) -> Response:
    """Add Attributes to Temporal Representation of an Entity (5.6.12; binding 6.20.3.1)."""
    del local
    ld = await read_ld(request, body)
    await service.append(tenant, entity_id, body, ld.compiled)
    return Response(status_code=204)


@router.patch("/entities/{entity_id:id}/attrs/{attr_id}/{instance_id:id}", status_code=204)
async def modify_instance(
    service: Service,
    tenant: Tenant,
    entity_id: str,
    attr_id: str,
    instance_id: str,
    body: JsonPatch,
    request: Request,
    local: bool = False,
) -> Response:
    """Partial Update Attribute instance in Temporal Representation of an Entity (5.6.14;
    binding 6.22.3.1)."""
    del local
    ld = await read_ld(request, body)
    await service.modify_instance(tenant, entity_id, attr_id, instance_id, body, ld.compiled)
    return Response(status_code=204)


@router.delete("/entities/{entity_id:id}/attrs/{attr_id}/{instance_id:id}", status_code=204)
async def delete_instance(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    entity_id: str,
    attr_id: str,
    instance_id: str,
    local: bool = False,
) -> Response:
    """Delete Attribute instance from Temporal Representation of an Entity (5.6.15; binding
    6.22.3.2)."""
    del local
    await service.delete_instance(tenant, entity_id, attr_id, instance_id, ld.compiled)
    return Response(status_code=204)


@router.delete("/entities/{entity_id:id}/attrs/{attr_id}", status_code=204)
async def delete_temporal_attribute(
    service: Service,
    tenant: Tenant,
    ld: LdContext,
    entity_id: str,
    attr_id: str,
    datasetId: str | None = None,
    deleteAll: bool = False,
    local: bool = False,
) -> Response:
    """Delete Attribute from Temporal Representation of an Entity (5.6.13; binding
    6.21.3.1)."""
    del local
    await service.delete_attribute(
        tenant, entity_id, attr_id, ld.compiled, dataset_id=datasetId, delete_all=deleteAll
    )
    return Response(status_code=204)


@router.get("/entities/{entity_id:id}")
async def retrieve_temporal(service: Service, entity_id: str, read: Read) -> Response:
    """Retrieve Temporal Evolution of an Entity (5.7.3; binding 6.19.3.1); ``local``
    changes nothing: one broker, no context sources."""
    entity, page = await service.retrieve(
        read.tenant, entity_id, read.ld.compiled, read.view, read.query
    )
    status, headers = _paged(page)
    return _answer(entity, read.ld, read.accept, status, headers)


@router.delete("/entities/{entity_id:id}", status_code=204)
async def delete_temporal(
    service: Service, tenant: Tenant, entity_id: str, local: bool = False
) -> Response:
    """Delete Temporal Representation of an Entity (5.6.16; binding 6.19.3.2)."""
    del local
    if "/attrs/" in entity_id:  # .../attrs//{instanceId}: the attribute name is missing
        raise BadRequestData("The attribute name is missing from the path")
    await service.delete(tenant, entity_id)
    return Response(status_code=204)
