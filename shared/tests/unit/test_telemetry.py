"""Outgoing httpx calls carry the current trace context and request id (MockTransport)."""

from __future__ import annotations

import httpx
from opentelemetry import context, propagate

from mims_shared.logs import request_id_var
from mims_shared.telemetry import http_client

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_http_client_propagates_traceparent_and_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(204)

    token = context.attach(propagate.extract({"traceparent": TRACEPARENT}))
    rid = request_id_var.set("rid-1")
    try:
        async with http_client(transport=httpx.MockTransport(handler)) as client:
            await client.get("http://upstream/x")
    finally:
        request_id_var.reset(rid)
        context.detach(token)
    assert seen[0].headers["traceparent"] == TRACEPARENT
    assert seen[0].headers["x-request-id"] == "rid-1"


async def test_no_context_no_traceparent() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(204)

    async with http_client(transport=httpx.MockTransport(handler)) as client:
        await client.get("http://upstream/x")
    assert "traceparent" not in seen[0].headers
    assert "x-request-id" not in seen[0].headers
