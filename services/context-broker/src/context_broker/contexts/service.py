"""Where the broker finds the @context documents a request names (ETSI GS CIM 009 V1.8.1,
5.5.7 and 5.13): the bundled core contexts first, then contexts already fetched, then — if
allowed — the network, once, with a time limit. An unknown URL the broker may not fetch, or
cannot, is ``LdContextNotAvailable`` (503, or 504 when the fetch timed out).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import httpx
import orjson

from context_broker.ngsild.jsonld import (
    CompiledContext,
    ContextError,
    ContextNotAvailable,
    bundled_document,
    get_compiled,
)
from mims_shared import errors as e

log = logging.getLogger("context_broker.contexts")
MAX_CONTEXT_BYTES = 512 * 1024


class LdContextNotAvailable(e.ServiceUnavailable):
    """A @context named by the request cannot be had (Table 5.5.2-1)."""

    title = "@context not available"
    ngsild_type = "LdContextNotAvailable"


class LdContextTimeout(e.UpstreamTimeout):
    """Fetching a @context timed out (504, Table 6.3.2-1 of V1.9.1)."""

    title = "@context not available"
    ngsild_type = "LdContextNotAvailable"


def _looks_like_url(value: str) -> bool:
    scheme, sep, rest = value.partition(":")
    return bool(sep and rest and scheme.isascii() and scheme.isalpha() and " " not in value)


class ContextService:
    def __init__(
        self, client: httpx.AsyncClient | None, *, allow_fetch: bool, cache_size: int = 256
    ) -> None:
        self.client = client
        self.allow_fetch = allow_fetch and client is not None
        self.cache_size = cache_size
        self._docs: OrderedDict[str, Any] = OrderedDict()

    def resolve(self, url: str) -> Any:
        """Synchronous resolver for the compiler: only what is bundled or already here."""
        doc = bundled_document(url)
        if doc is not None:
            return doc
        if url in self._docs:
            self._docs.move_to_end(url)
            return self._docs[url]
        raise ContextNotAvailable(url)

    async def _fetch(self, url: str) -> Any:
        if not self.allow_fetch or self.client is None:
            raise LdContextNotAvailable(
                f"The @context {url} is not known to this broker and it is configured "
                "not to fetch contexts"
            )
        if not url.startswith(("http://", "https://")):
            raise LdContextNotAvailable(f"The @context {url[:200]} is not an http(s) URL")
        try:
            resp = await self.client.get(
                url, headers={"Accept": "application/ld+json, application/json"}
            )
        except httpx.TimeoutException:
            raise LdContextTimeout(f"Fetching the @context {url} timed out") from None
        except httpx.HTTPError as exc:
            raise LdContextNotAvailable(
                f"The @context {url} could not be fetched: {type(exc).__name__}"
            ) from None
        if resp.status_code != 200:
            raise LdContextNotAvailable(
                f"The @context {url} could not be fetched: HTTP {resp.status_code}"
            )
        if len(resp.content) > MAX_CONTEXT_BYTES:
            raise LdContextNotAvailable(f"The @context {url} is larger than 512 KB")
        try:
            doc = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise LdContextNotAvailable(f"The @context {url} is not JSON") from None
        if not isinstance(doc, dict) or "@context" not in doc:
            raise LdContextNotAvailable(f"The document at {url} holds no @context")
        return doc

    def remember(self, url: str, doc: Any) -> None:
        self._docs[url] = doc
        self._docs.move_to_end(url)
        while len(self._docs) > self.cache_size:
            self._docs.popitem(last=False)

    async def _prefetch(self, value: Any, depth: int = 0) -> None:
        """Fetch every URL ``value`` names, and those their documents name, once."""
        if depth > 8:
            raise e.BadRequestData("The @context nests references more than 8 levels deep")
        if isinstance(value, str):
            if not _looks_like_url(value):
                raise e.BadRequestData(f"The @context {value[:200]!r} is not a URL")
            try:
                self.resolve(value)
                return
            except ContextNotAvailable:
                pass
            doc = await self._fetch(value)
            self.remember(value, doc)
            await self._prefetch(doc.get("@context"), depth + 1)
        elif isinstance(value, list):
            for item in value:
                await self._prefetch(item, depth + 1)
        elif isinstance(value, dict):
            for key in ("@import",):
                if isinstance(value.get(key), str):
                    await self._prefetch(value[key], depth + 1)

    async def compiled(self, value: Any) -> CompiledContext:
        """The compiled context of a request's @context value (None: the core context)."""
        if value is not None:
            await self._prefetch(value)
        try:
            return get_compiled(value, self.resolve)
        except ContextNotAvailable as exc:
            raise LdContextNotAvailable(f"The @context {exc.url} is not available") from None
        except ContextError as exc:
            raise e.BadRequestData(f"The @context is not valid: {exc}") from None
