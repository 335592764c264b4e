"""Dependencies the routers use: body, tenant, @context and the services of the lifespan."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.convertors import PathConvertor, register_url_convertor

from context_broker.contexts.service import ContextService
from context_broker.entities.service import EntityService
from context_broker.ngsild import visibility
from context_broker.ngsild.ids import is_uri
from context_broker.ngsild.jsonld import CORE_CONTEXT_URL, CompiledContext
from context_broker.ngsild.links import context_from_link
from context_broker.ngsild.media import JSON, JSONLD
from context_broker.ngsild.tenant import parse_tenant
from mims_shared.errors import BadRequestData, InvalidRequest
from mims_shared.web.body import json_body, media_type_of


class _AnyText(PathConvertor):
    """``{name:id}`` in a route: any text, slashes and line breaks included. Starlette's
    ``path`` stops at a line break, so ``/entities/%0A/attrs`` matched no route and was
    answered 404; with this, the operation answers (an invalid id is 400, a method the
    path does not serve 405)."""

    regex = "[\\s\\S]*"


register_url_convertor("id", _AnyText())

#: The media types of request bodies (6.3.4); PATCH bodies may also come as JSON Merge Patch
#: (RFC 7396).
BODY_MEDIA_TYPES = (JSON, JSONLD)
PATCH_MEDIA_TYPES = (JSON, JSONLD, "application/merge-patch+json")
Json = Annotated[Any, json_body(*BODY_MEDIA_TYPES)]
JsonPatch = Annotated[Any, json_body(*PATCH_MEDIA_TYPES)]


# Headers and query parameters on the hot paths are read from the request here, not declared
# one by one as FastAPI parameters: FastAPI validates each declared parameter on every
# request (about 8 µs each, measured), which made parameter handling the largest single cost
# of Retrieve Entity. The routes' documentation is the contract (contracts/), not FastAPI's.


def tenant_of(request: Request) -> str:
    """The request's tenant (``NGSILD-Tenant``, 6.3.14; '' for the default one)."""
    return parse_tenant(request.headers.get("ngsild-tenant"))


def visible_of(request: Request) -> frozenset[str] | None:
    """The entity types the reader may see (ngsild/visibility.py); None: no limit."""
    return visibility.parse(request.headers.get(visibility.HEADER))


async def _tenant(request: Request) -> str:
    return tenant_of(request)


Tenant = Annotated[str, Depends(_tenant)]


async def _visible(request: Request) -> frozenset[str] | None:
    return visible_of(request)


#: The entity types the reader may see, as the gateway names them (ngsild/visibility.py).
Visible = Annotated[frozenset[str] | None, Depends(_visible)]


async def _entitled_until(request: Request) -> datetime | None:
    return visibility.parse_until(request.headers.get(visibility.UNTIL_HEADER))


#: When the entitlements behind a subscription end (ngsild/visibility.py).
EntitledUntil = Annotated[datetime | None, Depends(_entitled_until)]


async def _owner(request: Request) -> str | None:
    if visibility.HEADER not in request.headers:
        return None
    return request.headers.get(visibility.SUBJECT_HEADER) or ""


#: A reader limited to some entity types deals with its own subscriptions only: its subject
#: (the gateway's ``X-Mims-Subject``), or None for a reader without limits.
Owner = Annotated[str | None, Depends(_owner)]


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


F = TypeVar("F", bound=Callable[..., Any])


#: The query parameters of Query Entities' filters (5.7.2; geo-queries 4.10, paging 5.5.9),
#: which Query Temporal Evolution of Entities (5.7.4) takes too.
ENTITY_FILTERS = (
    "id",
    "idPattern",
    "type",
    "q",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "limit",
    "offset",
    "count",
)


def reads_query(*names: str) -> Callable[[F], F]:
    """Marks an endpoint or dependency that reads these query parameters from the request
    itself: they count as defined for :func:`reject_unknown_query_parameters`."""

    def mark(fn: F) -> F:
        fn.query_names = frozenset(names)  # type: ignore[attr-defined]
        return fn

    return mark


def flag(params: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter (absent: false), spelled as FastAPI accepts it."""
    value = params.get(name)
    if value is None:
        return False
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidRequest(f"The query parameter {name} must be true or false")


def natural(params: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of 0 or more (absent: ``default``)."""
    value = params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise InvalidRequest(f"The query parameter {name} must be a whole number of 0 or more")
    return number


_TRUE = frozenset({"1", "true", "t", "on", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "off", "no", "n"})


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    names |= getattr(dependant.call, "query_names", frozenset())
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


def check_query_body(body: dict[str, Any], *, strings: tuple[str, ...]) -> tuple[list[Any], Any]:
    """The members of a Query body (5.2.23) that Query Entities and Query Temporal Evolution
    both read: ``entities`` (EntitySelectors) and ``attrs``, checked; the ``strings`` members
    must be strings."""
    entities = body.get("entities") or []
    if not isinstance(entities, list) or not all(
        isinstance(s, dict)
        and all(isinstance(s.get(k, ""), str) for k in ("id", "idPattern", "type"))
        for s in entities
    ):
        raise BadRequestData("entities must be a list of EntitySelector objects")
    attrs = body.get("attrs")
    if attrs is not None and not (
        isinstance(attrs, list) and all(isinstance(a, str) and a for a in attrs)
    ):
        raise BadRequestData("attrs must be a list of attribute names")
    for member in strings:
        if not isinstance(body.get(member, ""), str):
            raise BadRequestData(f"{member} must be a string")
    return entities, attrs


def csv(value: str | None) -> list[str] | None:
    """A comma-separated query parameter as its non-empty items (None when there are none)."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def dataset_ids(raw: str | None) -> frozenset[str | None] | None:
    """``datasetId=urn:a,@none``: the instances asked for (``@none``: the default one)."""
    items = csv(raw)
    if not items:
        return None
    for ds in items:
        if ds != "@none" and not is_uri(ds):
            raise BadRequestData(f"The datasetId {ds[:200]!r} is not a URI")
    return frozenset(None if ds == "@none" else ds for ds in items)
