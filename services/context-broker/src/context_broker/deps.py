"""Dependencies the routers use: body, tenant, @context and the services of the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from context_broker.contexts.service import ContextService
from context_broker.entities.service import EntityService
from context_broker.ngsild.jsonld import CORE_CONTEXT_URL, CompiledContext
from context_broker.ngsild.links import context_from_link
from context_broker.ngsild.media import JSON, JSONLD
from context_broker.ngsild.tenant import parse_tenant
from mims_shared.errors import BadRequestData, InvalidRequest
from mims_shared.web.body import json_body, media_type_of

Json = Annotated[Any, json_body(JSON, JSONLD)]
#: PATCH bodies may also come as JSON Merge Patch (RFC 7396; ETSI GS CIM 009 6.3.4).
JsonPatch = Annotated[Any, json_body(JSON, JSONLD, "application/merge-patch+json")]


async def _tenant(
    ngsild_tenant: Annotated[str | None, Header(alias="NGSILD-Tenant")] = None,
) -> str:
    return parse_tenant(ngsild_tenant)


Tenant = Annotated[str, Depends(_tenant)]


async def _entities(request: Request) -> EntityService:
    service: EntityService = request.app.state.entities
    return service


entities = Depends(_entities)


@dataclass(frozen=True, slots=True)
class Ld:
    """The request's @context: its value as sent (a URL, an object or an array), compiled,
    and whether it came in the body (``application/ld+json``)."""

    value: Any
    compiled: CompiledContext
    in_body: bool

    @property
    def link_url(self) -> str:
        """The URL to name in a response ``Link`` header."""
        return self.value if isinstance(self.value, str) else CORE_CONTEXT_URL


async def _contexts(request: Request) -> ContextService:
    service: ContextService = request.app.state.contexts
    return service


async def read_ld(request: Request, body: Any | None = None) -> Ld:
    """The @context of a request: from the body for ``application/ld+json``, else from the
    ``Link`` header, else the core context (6.3.5)."""
    contexts: ContextService = request.app.state.contexts
    in_body = body is not None and media_type_of(request.headers.get("content-type")) == JSONLD
    if in_body:
        if context_from_link(request.headers.get("link")) is not None:
            raise BadRequestData(
                "A body sent as application/ld+json carries its @context; a JSON-LD Link "
                "header must not be sent with it (6.3.5)"
            )
        value = body.get("@context") if isinstance(body, dict) else None
    else:
        value = context_from_link(request.headers.get("link"))
    return Ld(value, await contexts.compiled(value), in_body)


async def _ld_without_body(request: Request) -> Ld:
    return await read_ld(request)


LdContext = Annotated[Ld, Depends(_ld_without_body)]


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


#: The query parameters each route declares, by the id of its (long-lived) dependant.
_KNOWN: dict[int, frozenset[str]] = {}


async def reject_unknown_query_parameters(request: Request) -> None:
    """A query parameter the operation does not define is answered 400 InvalidRequest
    (the ETSI suite checks it), rather than silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = _KNOWN.get(id(dependant))
    if known is None:  # computed once per route, not on every request
        known = _KNOWN[id(dependant)] = frozenset(_query_names(dependant))
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidRequest(
            f"Unknown query parameter {unknown[0][:60]!r} for {request.method} {request.url.path}"
        )
