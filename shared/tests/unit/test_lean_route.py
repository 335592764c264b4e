"""LeanRoute: request-only endpoints run without FastAPI's resolution, with the same checks."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import JSONResponse, Response

from mims_shared.errors import InvalidRequest
from mims_shared.web.lean import REQUEST_CHECKS, LeanDispatch, LeanRoute, install_lean_dispatch

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


async def special_endpoint(item: str) -> Response:
    calls.append("special")
    return JSONResponse({"special": item})


def _dispatching_app() -> tuple[FastAPI, list[str]]:
    """Routes in this order: a resolved route whose path also fits the lean route after it,
    the lean route, a lean POST on the same path as a resolved GET."""
    router = APIRouter(prefix="/v1", route_class=LeanRoute)
    router.add_api_route("/items/{item:path}/special", special_endpoint, methods=["GET"])
    router.add_api_route("/items/{item:path}", lean_endpoint, methods=["GET"])
    router.add_api_route("/resolved/{item}", resolved_endpoint, methods=["GET"])
    router.add_api_route("/resolved/{item}", lean_endpoint, methods=["POST"])
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(router)
    install_lean_dispatch(app.router)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, LeanDispatch)
    fell_back: list[str] = []
    inner = dispatch.fallback

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        fell_back.append(scope["path"])
        await inner(scope, receive, send)

    dispatch.fallback = counting
    return app, fell_back


async def test_dispatch_calls_lean_routes_in_one_pass_and_keeps_the_route_order() -> None:
    app, fell_back = _dispatching_app()
    calls.clear()
    async with _client(app) as client:
        lean = await client.get("/v1/items/urn:a")
        earlier = await client.get("/v1/items/urn:a/special")  # the earlier route wins
        resolved = await client.get("/v1/resolved/x?a=2")
        posted = await client.post("/v1/resolved/y")
        missing = await client.get("/v1/nothing")
        wrong = await client.delete("/v1/items/urn:a")
    assert lean.json() == {"id": "urn:a", "a": None}
    assert earlier.json() == {"special": "urn:a"}
    assert resolved.json() == {"id": "x", "n": 2}
    assert posted.json() == {"id": "y", "a": None}
    assert (missing.status_code, wrong.status_code) == (404, 405)
    assert calls == ["lean", "special", "resolved", "lean"]
    # Only what is not a lean route's went on to FastAPI's router.
    assert fell_back == [
        "/v1/items/urn:a/special",
        "/v1/resolved/x",
        "/v1/nothing",
        "/v1/items/urn:a",
    ]


async def test_dispatch_leaves_everything_to_fastapi_beside_other_kinds_of_routes() -> None:
    app = FastAPI()  # its /docs and /redoc are Starlette routes, whose rules it does not know
    app.include_router(_router())
    install_lean_dispatch(app.router)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, LeanDispatch)
    async with _client(app) as client:
        assert (await client.get("/v1/lean/x")).status_code == 200
    assert dispatch._table == []
