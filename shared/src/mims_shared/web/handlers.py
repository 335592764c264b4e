"""One place that turns every failure into the service's error format."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from mims_shared import errors as e
from mims_shared.db import is_connectivity_error
from mims_shared.web.problems import InternalError, Renderer, status_of

log = logging.getLogger("mims.errors")


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "The request is not valid"


def install_error_handlers(app: FastAPI, render: Renderer) -> None:
    """Render domain errors, routing misses, parameter errors and crashes with ``render``."""

    def respond(error: e.DomainError, request: Request) -> Response:
        return render(error, status_of(error), request)

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, e.DomainError)
        if isinstance(exc, e.ServiceUnavailable):
            log.warning("dependency unavailable: %s", exc.detail)
        return respond(exc, request)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error: e.DomainError
        if exc.status_code == 404:
            error = e.NotFound(f"No resource at {request.url.path}")
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            error = e.MethodNotAllowed(
                f"Method {request.method} is not allowed on {request.url.path}",
                allowed=[m.strip() for m in allowed.split(",") if m.strip()],
            )
        elif exc.status_code == 413:
            error = e.PayloadTooLarge(str(exc.detail))
        elif exc.status_code == 415:
            error = e.UnsupportedMediaType(str(exc.detail))
        elif exc.status_code < 500:
            error = e.InvalidRequest(str(exc.detail))
        else:
            error = InternalError("The request could not be completed")
        return respond(error, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(e.InvalidRequest(_describe_validation(exc)), request)

    async def on_crash(request: Request, exc: Exception) -> Response:
        if is_connectivity_error(exc):
            log.warning("database unavailable: %s", exc)
            return respond(e.ServiceUnavailable("The database cannot be reached"), request)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = InternalError("An unexpected error occurred; it has been logged")
        return render(error, 500, request)

    app.add_exception_handler(e.DomainError, on_domain)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_crash)
