"""LeanRoute: request-only endpoints run without FastAPI's resolution, with the same checks."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import JSONResponse, Response

from mims_shared.errors import InvalidRequest
from mims_shared.web.lean import REQUEST_CHECKS, LeanRoute

calls: list[str] = []


async def only_query_a(request: Request) -> None:
    """A router dependency taking the request alone (like the broker's unknown-parameter
    check)."""
    unknown = set(request.query_params) - {"a"}
    if unknown:
        raise ValueError(f"unknown {sorted(unknown)}")


async def lean_endpoint(request: Request) -> Response:
    calls.append("lean")
    return JSONResponse({"id": request.path_params["item"], "a": request.query_params.get("a")})


async def _number(request: Request) -> int:
    return int(request.query_params.get("a", "0"))


async def resolved_endpoint(item: str, n: Annotated[int, Depends(_number)]) -> Response:
    calls.append("resolved")
    return JSONResponse({"id": item, "n": n})


def _router() -> APIRouter:
    router = APIRouter(prefix="/v1", dependencies=[Depends(only_query_a)], route_class=LeanRoute)
    router.add_api_route("/lean/{item}", lean_endpoint, methods=["GET"])
    router.add_api_route("/resolved/{item}", resolved_endpoint, methods=["GET"])
    return router


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(ValueError)
    async def bad(request: Request, exc: ValueError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(InvalidRequest)
    async def invalid(request: Request, exc: InvalidRequest) -> Response:
        return JSONResponse({"error": exc.detail}, status_code=400)

    app.include_router(_router(), dependencies=[Depends(c) for c in REQUEST_CHECKS])
    return app


def test_a_request_only_endpoint_is_called_directly_with_the_checks() -> None:
    route = next(r for r in _router().routes if getattr(r, "path", "") == "/v1/lean/{item}")
    assert isinstance(route, LeanRoute) and route.lean_checks is not None
    assert route.lean_checks[: len(REQUEST_CHECKS)] == REQUEST_CHECKS
    assert only_query_a in route.lean_checks


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_an_endpoint_with_parameters_goes_through_fastapi() -> None:
    app = _app()
    route = next(r for r in _router().routes if getattr(r, "path", "") == "/v1/resolved/{item}")
    assert isinstance(route, LeanRoute) and route.lean_checks is None
    calls.clear()
    async with _client(app) as client:
        resp = await client.get("/v1/resolved/x?a=4")
    assert resp.json() == {"id": "x", "n": 4} and calls == ["resolved"]


async def test_lean_route_answers_and_runs_router_and_app_checks() -> None:
    calls.clear()
    async with _client(_app()) as client:
        ok = await client.get("/v1/lean/urn:x%3Ay?a=1")
        assert ok.status_code == 200 and ok.json() == {"id": "urn:x:y", "a": "1"}
        unknown = await client.get("/v1/lean/x?b=1")  # the router's dependency refuses it
        assert unknown.status_code == 400 and "unknown ['b']" in unknown.json()["error"]
        nul = await client.get("/v1/lean/x?a=%00")  # the application-wide check
        assert nul.status_code == 400 and "NUL" in nul.json()["error"]
        wrong_method = await client.post("/v1/lean/x")
        assert wrong_method.status_code == 405
    assert calls == ["lean"]  # only the accepted request reached the endpoint
