"""Lean routes: hot endpoints that read what they need from the request themselves.

FastAPI resolves the parameters and dependencies of an endpoint on every request, and that
machinery has a fixed cost even when every value is read from the request anyway (about
60 µs per request for the broker's Create Entity, measured in process). An endpoint whose
only parameter is the ``Request`` gains nothing from it: :class:`LeanRoute` calls such an
endpoint directly, after the same request checks FastAPI would have run — the application's
(:data:`REQUEST_CHECKS`, which ``build_app`` puts on every router) and the route's own
dependencies, each of which must take the request alone. Any other endpoint goes through
FastAPI as usual, so a router can use ``route_class=LeanRoute`` for all its routes.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

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
