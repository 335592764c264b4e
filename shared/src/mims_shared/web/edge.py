"""The edge: requests a service serves in front of its own middleware and routing.

Some paths carry a service's hottest traffic and need none of what FastAPI adds to a
request (routing over every route, dependency solving, the error and telemetry layers):
the gateway's proxied paths, the catalogue's CKAN actions. :class:`EdgeApp` hands such a
request to its ``edge`` handler, wrapped in the request context every request gets (request
id, trace, access log: :class:`RequestContextMiddleware`); every other request goes through
FastAPI as usual. The handler answers its own errors, or lets :func:`answer_error` render
them with the application's exception handlers, so the answers are the routes' answers.

Inside the middleware, :mod:`mims_shared.web.lean` does the same for routes that need the
application's middleware (the broker's).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mims_shared.settings import ServiceSettings
from mims_shared.telemetry import setup_tracing
from mims_shared.web.middleware import RequestContextMiddleware

#: Says whether an HTTP request is the edge's (only its scope is known then).
AtEdge = Callable[[Scope], bool]


class EdgeApp(FastAPI):
    """A FastAPI application whose requests ``at_edge`` picks are served by ``edge``."""

    edge: ASGIApp | None = None
    at_edge: AtEdge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.edge is not None
            and self.at_edge is not None
            and scope["type"] == "http"
            and self.at_edge(scope)
        ):
            await self.edge(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install_edge(
    app: FastAPI, settings: ServiceSettings, at_edge: AtEdge, handler: ASGIApp
) -> None:
    """Serve the requests ``at_edge`` picks with ``handler``, in the request context.
    ``app`` must have been built with ``app_class=EdgeApp``."""
    if not isinstance(app, EdgeApp):
        raise TypeError("install_edge needs an application built with app_class=EdgeApp")
    app.at_edge = at_edge
    app.edge = RequestContextMiddleware(
        handler, tracer=setup_tracing(settings.service_name), log_access=settings.access_log
    )


async def answer_error(app: FastAPI, request: Request, exc: Exception) -> Response:
    """The answer the application's exception handlers give to ``exc`` (the most specific
    class first, as Starlette chooses); ``exc`` again when none handles it."""
    for cls in type(exc).__mro__:
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            answer = handler(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
            assert isinstance(response, Response)
            return response
    raise exc
