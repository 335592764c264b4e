"""The upstreams seen from the gateway: their readiness and their OpenAPI documents."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import orjson

from gateway.routing.table import RouteTable, Upstream


class ProxyService:
    """The upstreams' health and OpenAPI documents (forwarding is :mod:`gateway.proxy.edge`)."""

    def __init__(self, table: RouteTable, client: httpx.AsyncClient) -> None:
        self.table = table
        self.client = client

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
