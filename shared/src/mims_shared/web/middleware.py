"""Pure ASGI middleware (no per-request objects beyond what each needs)."""

from __future__ import annotations

import random
import re
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mims_shared.collector import LARGE_BODY, request_ended, request_started
from mims_shared.logs import access_log, request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


class RequestContextMiddleware:
    """Request id, trace context, server span and one access-log line per request.

    ``X-Request-ID`` is taken from the caller when it is a short safe token, otherwise
    generated, and echoed in the response. An incoming ``traceparent`` becomes the current
    context so that calls made while serving the request carry it on.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tracer: trace.Tracer | None,
        log_access: bool,
    ) -> None:
        self.app = app
        self.tracer = tracer
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] = {}
        rid: str | None = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SAFE_ID.match(candidate):
                    rid = candidate
            elif key in (b"traceparent", b"tracestate"):
                carrier[key.decode()] = value.decode("latin-1")
        if rid is None:
            rid = f"{random.getrandbits(128):032x}"  # not a secret; uuid4 costs a syscall
        rid_token = request_id_var.set(rid)
        ctx_token = otel_context.attach(propagate.extract(carrier)) if carrier else None
        started = time.perf_counter()
        status = 500
        rid_header = (b"x-request-id", rid.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        span_cm: Any = None
        try:
            if self.tracer is not None:
                span_cm = self.tracer.start_as_current_span(
                    f"{scope['method']} {scope['path']}",
                    kind=trace.SpanKind.SERVER,
                    attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
                )
                span = span_cm.__enter__()
            await self.app(scope, receive, send_wrapper)
        finally:
            if span_cm is not None:
                span.set_attribute("http.response.status_code", status)
                span_cm.__exit__(None, None, None)
            if self.log_access:
                elapsed = round((time.perf_counter() - started) * 1000, 2)
                access_log.write(scope["method"], scope["path"], status, elapsed)
            if ctx_token is not None:
                otel_context.detach(ctx_token)
            request_id_var.reset(rid_token)


class StripTrailingSlashMiddleware:
    """Serve ``/entities/`` as ``/entities``: clients such as ngsildclient add the slash."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class LargeBodyCollectorPause:
    """The cyclic collector stays off while a request with a large body (``Content-Length``
    at least ``LARGE_BODY``) is served, and until its objects are freed: no collection
    walks a batch's hundred thousand objects (mims_shared/collector.py). Outermost, so the
    whole request is inside."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _large(scope):
            await self.app(scope, receive, send)
            return
        request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            request_ended()


def _large(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return value.isdigit() and int(value) >= LARGE_BODY
    return False
