"""The three error formats of the stack, as renderers for :func:`install_error_handlers`.

- RFC 9457 ``application/problem+json`` (catalogue, gateway);
- NGSI-LD ProblemDetails (ETSI GS CIM 009 V1.8.1, clause 5.5.2 and 6.3.x) (context broker);
- the TM Forum ``Error`` resource (TMF630 guidelines; every TMF Open API) (marketplace).
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mims_shared import errors as e
from mims_shared.web.problems import problem_headers

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def problem_slug(error: e.DomainError) -> str:
    """``NotFound`` -> ``not-found``."""
    return _CAMEL.sub("-", type(error).__name__).lower()


PROBLEM_TYPE_BASE = "urn:mims:problem:"


def render_problem_json(error: e.DomainError, status: int, request: Request) -> Response:
    """RFC 9457 problem details; ``type`` is a stable URN per kind of problem."""
    body = {
        "type": PROBLEM_TYPE_BASE + problem_slug(error),
        "title": error.title,
        "status": status,
        "detail": error.detail,
        "instance": request.url.path,
        **error.extra,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=problem_headers(error),
    )


NGSILD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"

# Domain error -> ETSI error type (ETSI GS CIM 009 V1.8.1, Table 5.5.2-1). Kinds the spec
# has no name for keep the nearest ETSI type and their own HTTP status.
_NGSILD_TYPE: dict[type[e.DomainError], str] = {
    e.InvalidRequest: "InvalidRequest",
    e.BadRequestData: "BadRequestData",
    e.AlreadyExists: "AlreadyExists",
    e.Conflict: "AlreadyExists",
    e.OperationNotSupported: "OperationNotSupported",
    e.NotFound: "ResourceNotFound",
    e.MethodNotAllowed: "InvalidRequest",
    e.UnsupportedMediaType: "InvalidRequest",
    e.NotAcceptable: "InvalidRequest",
    e.PayloadTooLarge: "BadRequestData",
    e.Unauthenticated: "InvalidRequest",
    e.Forbidden: "InvalidRequest",
    e.TooManyRequests: "InvalidRequest",
}


def ngsild_error_type(error: e.DomainError) -> str:
    own = getattr(error, "ngsild_type", None)
    if isinstance(own, str):
        return own
    for cls in type(error).__mro__:
        name = _NGSILD_TYPE.get(cls)
        if name is not None:
            return name
    return "InternalError"


def render_ngsild_problem(error: e.DomainError, status: int, request: Request) -> Response:
    """NGSI-LD ProblemDetails: ETSI ``type`` URI, a distinct ``title`` and ``detail``."""
    body = {
        "type": NGSILD_ERRORS + ngsild_error_type(error),
        "title": error.title,
        "status": status,
        "detail": error.detail,
        "instance": request.url.path,
        **error.extra,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=problem_headers(error),
    )


def render_tmf_error(error: e.DomainError, status: int, request: Request) -> Response:
    """The TMF ``Error`` resource: ``code`` and ``reason`` required, ``status`` as a string."""
    body = {
        "@type": "Error",
        "code": type(error).__name__,
        "reason": error.title,
        "message": error.detail,
        "status": str(status),
        **error.extra,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers=problem_headers(error),
    )
