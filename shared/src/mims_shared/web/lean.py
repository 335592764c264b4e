"""Lean routes: hot endpoints that read what they need from the request themselves.

FastAPI resolves the parameters and dependencies of an endpoint on every request, and that
machinery has a fixed cost even when every value is read from the request anyway (40-60 µs
of the broker's Retrieve Entity, measured in process: 410-500 -> 358-389 µs of CPU). An
endpoint whose only parameter is the ``Request`` gains nothing from it: :class:`LeanRoute`
calls such an endpoint directly, after the same request checks FastAPI would have run: the
application's (:data:`REQUEST_CHECKS`, which ``build_app`` puts on every router) and the
route's own dependencies, each of which must take the request alone. Any other endpoint goes through
FastAPI as usual, so a router can use ``route_class=LeanRoute`` for all its routes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from mims_shared.web.body import reject_nul_in_url

Check = Callable[[Request], Awaitable[None]]

#: The checks every service runs on every request before its endpoint.
REQUEST_CHECKS: tuple[Check, ...] = (reject_nul_in_url,)


def _takes_request_only(fn: Callable[..., Any]) -> bool:
    params = list(inspect.signature(fn).parameters.values())
    return (
        len(params) == 1
        and params[0].kind in (params[0].POSITIONAL_OR_KEYWORD, params[0].POSITIONAL_ONLY)
        and params[0].annotation in (Request, "Request")
        and inspect.iscoroutinefunction(fn)
    )


def _request_checks(dependant: Dependant) -> Sequence[Check] | None:
    """The route's dependencies as plain calls, or None if one needs more than the request."""
    checks: list[Check] = []
    for sub in dependant.dependencies:
        call = sub.call
        if call is None or sub.dependencies or not _takes_request_only(call):
            return None
        checks.append(call)
    return checks


class LeanRoute(APIRoute):
    """An APIRoute that calls a request-only endpoint without FastAPI's resolution."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        checks = _request_checks(self.dependant) if _takes_request_only(endpoint) else None
        self.lean_checks: tuple[Check, ...] | None = (
            None if checks is None else (*REQUEST_CHECKS, *checks)
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        checks = self.lean_checks
        if checks is None or scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)
            return
        request = Request(scope, receive, send)
        for check in checks:
            await check(request)
        response = await self.endpoint(request)
        await response(scope, receive, send)


class LeanDispatch:
    """Routing for lean routes in one pass: the application's routes in their order, each a
    compiled path pattern and its methods, the first full match wins (Starlette's rule).

    FastAPI matches a request against the routes of an included router twice (once to pick
    the router, once to pick the route), with several dictionary operations per candidate;
    for the broker, whose hottest route comes after 15 others, that was about 13% of the CPU
    of Retrieve Entity (py-spy); with this, 351-366 -> 289-310 µs per request in process.
    When the winner is a :class:`LeanRoute` with a request-only endpoint it is called here;
    anything else (no match, a 405, another kind of route) goes on to FastAPI's router
    unchanged, which decides as before.
    """

    def __init__(self, router: Router, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback
        self._table: list[tuple[Any, frozenset[str], dict[str, Any], LeanRoute | None]] | None = (
            None
        )

    def _build(self) -> list[tuple[Any, frozenset[str], dict[str, Any], LeanRoute | None]]:
        table = []
        for context in iter_route_contexts(self.router.routes):
            route: BaseRoute | None = getattr(context, "original_route", None)
            regex = getattr(context, "path_regex", None)
            if not isinstance(route, APIRoute) or regex is None or not context.methods:
                return []  # a mount or another kind of route: FastAPI decides everything
            lean = route if isinstance(route, LeanRoute) and route.lean_checks else None
            table.append((regex, frozenset(context.methods), route.param_convertors, lean))
        # Without a lean route, one more pass over the routes would only cost time.
        return table if any(row[3] is not None for row in table) else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            table = self._table
            if table is None:  # the routes are complete once the application serves
                table = self._table = self._build()
            path = scope["path"]
            method = scope["method"]
            for regex, methods, convertors, lean in table:
                found = regex.match(path)
                if found is None or method not in methods:
                    continue
                if lean is None:
                    break
                params = {k: convertors[k].convert(v) for k, v in found.groupdict().items()}
                scope["path_params"] = {**scope.get("path_params", {}), **params}
                scope["endpoint"] = lean.endpoint
                scope["route"] = lean
                scope.setdefault("router", self.router)
                await lean.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def install_lean_dispatch(router: Router) -> None:
    """Put :class:`LeanDispatch` in front of ``router`` (inside the application's exception
    handling, so errors are rendered as before)."""
    router.middleware_stack = LeanDispatch(router, router.middleware_stack)
