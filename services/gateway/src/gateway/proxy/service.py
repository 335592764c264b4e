"""Forwarding one request to its upstream, streaming both ways (no buffering)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.routing.table import RouteTable, Upstream
from mims_shared import errors as e
from mims_shared.web.body import read_body

# RFC 9110, 7.6.1: connection-specific headers are not forwarded. Identity headers are set
# by the gateway alone, never taken from the caller.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# The gateway's own server sets these on every answer.
_RESPONSE_DROP = (_HOP_BY_HOP - {"content-length"}) | {"date", "server", "x-request-id"}
_IDENTITY_PREFIX = "x-mims-"


def _request_headers(request: Request) -> list[tuple[str, str]]:
    out = [
        (k, v)
        for k, v in request.headers.items()
        if k not in _HOP_BY_HOP and not k.startswith(_IDENTITY_PREFIX)
    ]
    client = request.client.host if request.client else ""
    prior = request.headers.get("x-forwarded-for")
    out.append(("x-forwarded-for", f"{prior}, {client}" if prior else client))
    out.append(("x-forwarded-proto", request.url.scheme))
    if "host" in request.headers:
        out.append(("x-forwarded-host", request.headers["host"]))
    return out


def _response_headers(resp: httpx.Response) -> dict[str, str]:
    headers: dict[str, str] = {}
    for k, v in resp.headers.multi_items():
        if k in _RESPONSE_DROP:
            continue
        headers[k] = f"{headers[k]}, {v}" if k in headers and k != "set-cookie" else v
    return headers


class _LimitedBody:
    """A chunked request body streamed upstream, cut off past ``limit`` bytes."""

    def __init__(self, request: Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.too_large = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for chunk in self.request.stream():
            total += len(chunk)
            if total > self.limit:
                self.too_large = True
                raise e.PayloadTooLarge(f"The request body exceeds the limit of {self.limit} bytes")
            yield chunk


class ProxyService:
    def __init__(self, table: RouteTable, client: httpx.AsyncClient, max_body_bytes: int) -> None:
        self.table = table
        self.client = client
        self.max_body_bytes = max_body_bytes

    async def forward(self, request: Request) -> Response:
        upstream = self.table.resolve(request.url.path)
        if upstream is None:
            raise e.NotFound(f"No service behind the gateway serves {request.url.path}")
        content: Any = None
        declared = request.headers.get("content-length")
        if declared is not None and declared != "0":
            # A declared length is checked and read at once: small bodies are the common case.
            content = await read_body(request, max_bytes=self.max_body_bytes)
        elif "chunked" in request.headers.get("transfer-encoding", ""):
            content = _LimitedBody(request, self.max_body_bytes)
        url = httpx.URL(
            upstream.base_url + request.url.path, query=request.url.query.encode("latin-1")
        )
        outgoing = self.client.build_request(
            request.method, url, headers=_request_headers(request), content=content
        )
        try:
            resp = await self.client.send(outgoing, stream=True)
        except e.PayloadTooLarge:
            raise
        except httpx.HTTPError as exc:
            raise self._upstream_error(upstream, exc, content) from None
        return StreamingResponse(
            resp.aiter_raw(),
            status_code=resp.status_code,
            headers=_response_headers(resp),
            background=BackgroundTask(resp.aclose),
        )

    def _upstream_error(
        self, upstream: Upstream, exc: httpx.HTTPError, content: object
    ) -> e.DomainError:
        """What a failed upstream call means for the caller."""
        if isinstance(content, _LimitedBody) and content.too_large:
            return e.PayloadTooLarge(
                f"The request body exceeds the limit of {self.max_body_bytes} bytes"
            )
        if isinstance(exc, httpx.ConnectError):
            return e.ServiceUnavailable(
                f"The {upstream.name} service cannot be reached; try again shortly"
            )
        if isinstance(exc, httpx.TimeoutException):
            return e.UpstreamTimeout(f"The {upstream.name} service did not answer in time")
        return e.BadGateway(f"The {upstream.name} service answered badly: {type(exc).__name__}")

    async def _probe(self, upstream: Upstream, timeout: float) -> dict[str, Any]:
        try:
            resp = await self.client.get(f"{upstream.base_url}/ready", timeout=timeout)
        except httpx.HTTPError as exc:
            return {"status": "down", "url": upstream.base_url, "error": type(exc).__name__}
        body: dict[str, Any] = {}
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(resp.content)
        status = "up" if resp.status_code == 200 else "down"
        return {"status": status, "url": upstream.base_url, "checks": body.get("checks", {})}

    async def health(self, timeout: float) -> dict[str, dict[str, Any]]:
        """The readiness of every upstream, probed concurrently."""
        upstreams = self.table.upstreams
        results = await asyncio.gather(*(self._probe(u, timeout) for u in upstreams))
        return {u.name: r for u, r in zip(upstreams, results, strict=True)}

    async def documents(self, timeout: float) -> dict[str, dict[str, Any]]:
        """The OpenAPI document of every upstream that answers."""
        upstreams = self.table.upstreams

        async def fetch(u: Upstream) -> dict[str, Any] | None:
            try:
                resp = await self.client.get(f"{u.base_url}/openapi.json", timeout=timeout)
                resp.raise_for_status()
                doc = orjson.loads(resp.content)
            except (httpx.HTTPError, orjson.JSONDecodeError):
                return None
            return doc if isinstance(doc, dict) else None

        docs = await asyncio.gather(*(fetch(u) for u in upstreams))
        return {u.name: d for u, d in zip(upstreams, docs, strict=True) if d is not None}
