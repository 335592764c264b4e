"""The edge: requests picked by ``at_edge`` skip the middleware and routing, keep the
request context and the application's error answers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from mims_shared.errors import InvalidRequest
from mims_shared.settings import ServiceSettings
from mims_shared.web.edge import EdgeApp, answer_error, install_edge


def _app() -> EdgeApp:
    app = EdgeApp(openapi_url=None)

    @app.get("/fast")
    async def routed() -> Response:
        return PlainTextResponse("routed")

    @app.get("/slow")
    async def slow() -> Response:
        return PlainTextResponse("slow")

    @app.exception_handler(InvalidRequest)
    async def invalid(request: Request, exc: InvalidRequest) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=400)

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            if request.query_params.get("bad"):
                raise InvalidRequest("bad at the edge")
            response: Response = PlainTextResponse("edge")
        except Exception as exc:
            response = await answer_error(app, request, exc)
        await response(scope, receive, send)

    install_edge(app, ServiceSettings(service_name="t"), lambda s: s["path"] == "/fast", handler)
    return app


async def test_picked_requests_are_served_at_the_edge_in_the_request_context() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        fast, slow = await client.get("/fast"), await client.get("/slow")
        bad = await client.get("/fast?bad=1")
    assert (fast.text, slow.text) == ("edge", "slow")
    assert fast.headers["x-request-id"]  # the request context of the edge
    assert "x-request-id" not in slow.headers  # this bare app has none on its routes
    assert bad.status_code == 400 and bad.json() == {"detail": "bad at the edge"}


async def test_an_error_no_handler_knows_is_raised_again() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    with pytest.raises(KeyError):
        await answer_error(FastAPI(), request, KeyError("x"))


def test_the_edge_needs_an_edge_app() -> None:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError

    with pytest.raises(TypeError):
        install_edge(FastAPI(), ServiceSettings(service_name="t"), lambda s: True, handler)
