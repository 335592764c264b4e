"""Batch entity operations over HTTP (ETSI GS CIM 009 V1.8.1, clauses 6.14-6.17 and 6.31).

Each answers 204 when every entity succeeded (201 with the ids created for create, and for
upsert when some were created), else 207 with a BatchOperationResult (5.2.16) whose errors are
BatchEntityErrors (5.2.17) holding a ProblemDetails each. A body that is not an array of
entities (or of ids for delete), is empty or holds more than 1000 items is a 400.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from context_broker.batch.service import BatchResult, BatchService
from context_broker.deps import Json, Tenant, read_ld, reject_unknown_query_parameters
from context_broker.ngsild.jsonld import CompiledContext
from context_broker.ngsild.links import context_from_link
from context_broker.ngsild.media import JSONLD
from mims_shared.errors import BadRequestData, DomainError
from mims_shared.web.body import media_type_of
from mims_shared.web.formats import NGSILD_ERRORS, ngsild_error_type
from mims_shared.web.problems import status_of

router = APIRouter(
    prefix="/ngsi-ld/v1/entityOperations",
    dependencies=[Depends(reject_unknown_query_parameters)],
)


async def _batch(request: Request) -> BatchService:
    service: BatchService = request.app.state.batch
    return service


Service = Annotated[BatchService, Depends(_batch)]


async def _link_context(request: Request) -> CompiledContext | None:
    """The Link header's @context for application/json; None for application/ld+json, where
    each entity carries its own (6.3.5)."""
    if media_type_of(request.headers.get("content-type")) == JSONLD:
        if context_from_link(request.headers.get("link")) is not None:
            raise BadRequestData(
                "A body sent as application/ld+json carries its @context in each entity; a "
                "JSON-LD Link header must not be sent with it (6.3.5)"
            )
        return None
    return (await read_ld(request)).compiled


def _options(raw: str | None, allowed: set[str]) -> set[str]:
    given = {o.strip() for o in (raw or "").split(",") if o.strip()}
    unknown = given - allowed
    if unknown:
        raise BadRequestData(
            f"Unknown options {', '.join(sorted(unknown))[:200]}; "
            f"this operation takes {', '.join(sorted(allowed))}"
        )
    return given


def _problem(error: DomainError) -> dict[str, Any]:
    return {
        "type": NGSILD_ERRORS + ngsild_error_type(error),
        "title": error.title,
        "status": status_of(error),
        "detail": error.detail,
        **error.extra,
    }


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _answer(result: BatchResult, *, created_status: bool = False) -> Response:
    """204 (or 201 with the created ids) when all succeeded, else 207 (5.2.16)."""
    if result.errors:
        errors = [{"entityId": eid, "error": _problem(err)} for eid, err in result.errors]
        return _json({"success": result.success, "errors": errors}, 207)
    if created_status and result.created:
        return _json(result.created, 201)
    return Response(status_code=204)


@router.post("/create")
async def batch_create(service: Service, tenant: Tenant, body: Json, request: Request) -> Response:
    """Batch Entity Creation (5.6.7; HTTP binding 6.14.3.1)."""
    result = await service.create(tenant, body, await _link_context(request))
    return _answer(result, created_status=True)


@router.post("/upsert")
async def batch_upsert(
    service: Service, tenant: Tenant, body: Json, request: Request, options: str | None = None
) -> Response:
    """Batch Entity Creation or Update (5.6.8; HTTP binding 6.15.3.1)."""
    mode = _options(options, {"replace", "update"})
    if len(mode) > 1:
        raise BadRequestData("options may be replace or update, not both")
    link = await _link_context(request)
    result = await service.upsert(tenant, body, link, update="update" in mode)
    return _answer(result, created_status=True)


@router.post("/update")
async def batch_update(
    service: Service, tenant: Tenant, body: Json, request: Request, options: str | None = None
) -> Response:
    """Batch Entity Update (5.6.9; HTTP binding 6.16.3.1)."""
    no_overwrite = "noOverwrite" in _options(options, {"noOverwrite"})
    link = await _link_context(request)
    return _answer(await service.update(tenant, body, link, no_overwrite=no_overwrite))


@router.post("/merge")
async def batch_merge(service: Service, tenant: Tenant, body: Json, request: Request) -> Response:
    """Batch Entity Merge (5.6.20; HTTP binding 6.31.3.1)."""
    return _answer(await service.merge(tenant, body, await _link_context(request)))


@router.post("/delete")
async def batch_delete(service: Service, tenant: Tenant, body: Json) -> Response:
    """Batch Entity Delete (5.6.10; HTTP binding 6.17.3.1)."""
    return _answer(await service.delete(tenant, body))
