"""From domain errors to HTTP: the status of each error and the shape every format shares."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from mims_shared import errors as e

_STATUS: dict[type[e.DomainError], int] = {
    e.InvalidRequest: 400,
    e.BadRequestData: 400,
    e.Unauthenticated: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.MethodNotAllowed: 405,
    e.NotAcceptable: 406,
    e.AlreadyExists: 409,
    e.Conflict: 409,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.OperationNotSupported: 422,
    e.TooManyRequests: 429,
    e.BadGateway: 502,
    e.ServiceUnavailable: 503,
    e.UpstreamTimeout: 504,
}


def status_of(error: e.DomainError) -> int:
    """The HTTP status of a domain error (the nearest class in its hierarchy decides)."""
    for cls in type(error).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 500


class InternalError(e.DomainError):
    """Rendered when something unexpected happened; never carries the cause to the client."""

    title = "Internal error"


#: Renders one error in a service's wire format.
Renderer = Callable[[e.DomainError, int, Request], Response]


def problem_headers(error: e.DomainError) -> dict[str, str]:
    """Headers that some errors require (``Allow`` on 405, ``Retry-After`` on 429/503)."""
    if isinstance(error, e.MethodNotAllowed) and error.allowed:
        return {"Allow": ", ".join(error.allowed)}
    if isinstance(error, e.TooManyRequests):
        return {"Retry-After": str(error.retry_after_s)}
    if isinstance(error, e.ServiceUnavailable):
        return {"Retry-After": "1"}
    return {}
