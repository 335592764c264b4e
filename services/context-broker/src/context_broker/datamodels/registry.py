"""The data models the broker validates against (MIM2), read from the catalogue over HTTP.

The catalogue lists data model records (``GET /catalogue/v1/data-models``: id, version,
schema URL, @context URL, entity types). The registry compiles each once per version and
refreshes the list in the background of requests every ``refresh_s`` seconds, so a model
added or changed in the catalogue takes effect without a restart. Schemas are taken from
the vendored Smart Data Models when their URL is one of them, else fetched once (a city's
own model, hosted where the broker can reach it); ``$ref``s never leave the broker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from context_broker.contexts.service import ContextService
from context_broker.datamodels.validation import CompiledModel, bundled_schemas
from context_broker.ngsild.jsonld import CORE_CONTEXT_URL
from mims_shared.errors import DomainError

log = logging.getLogger("mims.datamodels")

DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
#: Records: [{id, version, schema, context, entityTypes}, ...]
Lister = Callable[[], Awaitable[list[dict[str, Any]]]]


def catalogue_lister(client: httpx.AsyncClient, base_url: str) -> Lister:
    """The data model records of the catalogue at ``base_url`` (all pages)."""

    async def records() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            r = await client.get(
                f"{base_url.rstrip('/')}/catalogue/v1/data-models",
                params={"offset": offset, "limit": 1000},
            )
            r.raise_for_status()
            page = r.json()
            out.extend(page.get("items", []))
            offset += len(page.get("items", []))
            if not page.get("items") or offset >= int(page.get("total", 0)):
                return out

    return records


class ModelRegistry:
    def __init__(
        self,
        contexts: ContextService,
        client: httpx.AsyncClient | None,
        lister: Lister | None,
        *,
        refresh_s: float = 10.0,
    ) -> None:
        self.contexts = contexts
        self.client = client
        self.lister = lister
        self.refresh_s = refresh_s
        self._by_type: dict[str, CompiledModel] = {}
        self._compiled: dict[tuple[str, str, str, str], CompiledModel] = {}
        self._schemas: dict[str, Any] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()
        #: Why the last refresh failed (shown by the models endpoint), None when it worked.
        self.problem: str | None = None

    async def by_type(self) -> dict[str, CompiledModel]:
        """Type IRI -> model, refreshed when older than ``refresh_s``."""
        if self.lister is not None and time.monotonic() - self._loaded_at > self.refresh_s:
            async with self._lock:
                if time.monotonic() - self._loaded_at > self.refresh_s:
                    await self._refresh()
        return self._by_type

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def _refresh(self) -> None:
        assert self.lister is not None
        try:
            records = await self.lister()
        except (httpx.HTTPError, ValueError) as exc:
            # Keep validating with what was loaded; try again at the next refresh.
            self.problem = f"the catalogue could not be read: {exc!r}"
            log.warning("data models: %s", self.problem)
            self._loaded_at = time.monotonic()
            return
        by_type: dict[str, CompiledModel] = {}
        problems = []
        for record in records:
            try:
                model = await self._compile(record)
            except (DomainError, httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                problems.append(f"{record.get('id')}: {exc}")
                continue
            for name in record.get("entityTypes", []):
                iri = model.ctx.expand(name)
                by_type.setdefault(iri, model)
                local = iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
                by_type.setdefault(DEFAULT_VOCAB + local, model)
        self._by_type = by_type
        self.problem = "; ".join(problems) or None
        if problems:
            log.warning("data models not usable: %s", self.problem)
        self._loaded_at = time.monotonic()

    async def _schema(self, url: str) -> Any:
        known = bundled_schemas().get(url)
        if known is not None:
            return known
        if url not in self._schemas:
            if self.client is None:
                raise ValueError(f"the schema {url} is not known to the broker")
            r = await self.client.get(url)
            r.raise_for_status()
            self._schemas[url] = r.json()
        return self._schemas[url]

    async def _compile(self, record: dict[str, Any]) -> CompiledModel:
        key = (
            str(record["id"]),
            str(record.get("version", "")),
            str(record["schema"]),
            str(record.get("context") or CORE_CONTEXT_URL),
        )
        if key not in self._compiled:
            schema = await self._schema(key[2])
            ctx = await self.contexts.compiled(key[3])
            known = {**bundled_schemas(), **self._schemas}

            def resolve(uri: str) -> Any:
                if uri not in known:
                    raise ValueError(f"$ref {uri} is not a schema the broker holds")
                return known[uri]

            self._compiled[key] = CompiledModel(key[0], key[1], schema, ctx, resolve)
        return self._compiled[key]
