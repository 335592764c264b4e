"""Where the broker finds the @context documents a request names (ETSI GS CIM 009 V1.8.1,
5.5.7 and 5.13): the bundled core contexts first, then contexts already fetched, then the
operator's mirror of remote contexts (``BROKER_CONTEXT_MIRROR``, contexts/mirror.py), then —
if allowed — the network, once, with a time limit. An unknown URL the broker may not fetch,
or cannot, is ``LdContextNotAvailable`` (504, Table 6.3.2-1 of V1.9.1).

It also manages the @contexts the broker stores (5.13): Add, List, Serve, Delete and Reload.
A hosted @context lives in PostgreSQL and is served at ``{public URL}/ngsi-ld/v1/
jsonldContexts/{id}``; the broker resolves such a URL itself (memory, then the database),
never over HTTP. Contexts fetched from elsewhere (or read from the mirror, exactly as if
fetched) are the ``Cached`` ones, held in memory.
Uses of hosted and cached contexts are counted in memory; the counts of hosted ones are
added to the database when their metadata is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import httpx
import orjson

from context_broker.contexts import repository
from context_broker.contexts.mirror import ContextMirror
from context_broker.contexts.repository import StoredContext
from context_broker.ngsild.jsonld import (
    BUNDLED,
    CompiledContext,
    ContextError,
    ContextNotAvailable,
    bundled_document,
    clear_compiled,
    compile_context,
    get_compiled,
)
from mims_shared import errors as e
from mims_shared.db import Database

log = logging.getLogger("context_broker.contexts")
MAX_CONTEXT_BYTES = 512 * 1024
#: The kinds of stored @contexts (5.13.3).
HOSTED: Final = "Hosted"
CACHED: Final = "Cached"
IMPLICITLY_CREATED: Final = "ImplicitlyCreated"
KINDS: Final = (HOSTED, CACHED, IMPLICITLY_CREATED)
#: Local ids of stored @contexts: 32 lower-case hex digits.
_LOCAL_ID = re.compile(r"[0-9a-f]{32}")


class LdContextNotAvailable(e.UpstreamTimeout):
    """A @context named by the request cannot be had: 504 (V1.9.1 Table 6.3.2-1; the ETSI
    suite expects 504 whether the fetch timed out or failed)."""

    title = "@context not available"
    ngsild_type = "LdContextNotAvailable"


class LdContextTimeout(e.UpstreamTimeout):
    """Fetching a @context timed out (504, Table 6.3.2-1 of V1.9.1)."""

    title = "@context not available"
    ngsild_type = "LdContextNotAvailable"


def _looks_like_url(value: str) -> bool:
    scheme, sep, rest = value.partition(":")
    return bool(sep and rest and scheme.isascii() and scheme.isalpha() and " " not in value)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _local_id(url: str) -> str:
    """The local id of a Cached @context: derived from its URL, stable across processes."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


@dataclass(slots=True)
class _Usage:
    hits: int = 0
    last: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContextInfo:
    """What the broker knows about a stored @context (5.13.3.5)."""

    url: str
    local_id: str
    kind: str
    created_at: datetime
    number_of_hits: int | None = None
    last_usage: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "URL": self.url,
            "localId": self.local_id,
            "kind": self.kind,
            "createdAt": _iso(self.created_at),
        }
        if self.last_usage is not None:
            out["lastUsage"] = _iso(self.last_usage)
        if self.number_of_hits is not None:
            out["numberOfHits"] = self.number_of_hits
        return out


@dataclass(frozen=True, slots=True)
class _Found:
    info: ContextInfo
    document: Any | None  # None: the broker does not serve its content (Cached)
    bundled: bool = False


class ContextService:
    def __init__(
        self,
        client: httpx.AsyncClient | None,
        *,
        allow_fetch: bool,
        cache_size: int = 256,
        db: Database | None = None,
        public_url: str = "http://localhost:1026",
        mirror: ContextMirror | None = None,
    ) -> None:
        self.client = client
        self.allow_fetch = allow_fetch and client is not None
        #: Where remote @contexts are read from before the network is asked (None: nowhere).
        self.mirror = mirror
        self.cache_size = cache_size
        self.db = db
        #: Every hosted @context is served at this prefix followed by its local id.
        self.hosted_prefix = public_url.rstrip("/") + "/ngsi-ld/v1/jsonldContexts/"
        self.public_url = public_url.rstrip("/")
        self._docs: OrderedDict[str, Any] = OrderedDict()
        self._fetched: dict[str, datetime] = {}  # URL of a Cached @context -> fetched at
        self._usage: dict[str, _Usage] = {}  # URL of a hosted or cached @context -> uses
        self._started = _now()

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
        """The document at ``url``, which the broker does not hold: read from the mirror
        when it has the URL's file, else fetched over HTTP when the broker may fetch. Either
        way it is checked alike (size, JSON, an ``@context`` member) and, remembered by the
        caller, becomes a Cached @context (5.13.1); Reload (5.13.5) reads it again the same
        way."""
        content = await self._read_mirror(url)
        if content is None:
            content = await self._download(url)
        if len(content) > MAX_CONTEXT_BYTES:
            raise LdContextNotAvailable(f"The @context {url} is larger than 512 KB")
        try:
            doc = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise LdContextNotAvailable(f"The @context {url} is not JSON") from None
        if not isinstance(doc, dict) or "@context" not in doc:
            raise LdContextNotAvailable(f"The document at {url} holds no @context")
        return doc

    async def _read_mirror(self, url: str) -> bytes | None:
        """The content of the mirror's file for ``url`` (one byte more than the largest
        @context at most, to tell a larger one), or None when the mirror does not have it."""
        if self.mirror is None:
            return None
        try:
            content = await asyncio.to_thread(self.mirror.read, url, MAX_CONTEXT_BYTES + 1)
        except OSError as exc:
            log.warning("the mirrored @context %s cannot be read: %s", url, exc)
            raise LdContextNotAvailable(
                f"The @context {url} could not be read from this broker's mirror"
            ) from None
        if content is not None:
            log.info("@context %s read from the mirror", url)
        return content

    async def _download(self, url: str) -> bytes:
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
        return resp.content

    def remember(self, url: str, doc: Any) -> None:
        """Keep the document fetched from ``url``: a Cached @context."""
        self._keep(url, doc)
        self._fetched[url] = _now()

    def _keep(self, url: str, doc: Any) -> None:
        self._docs[url] = doc
        self._docs.move_to_end(url)
        while len(self._docs) > self.cache_size:
            old, _ = self._docs.popitem(last=False)
            self._fetched.pop(old, None)
            if not old.startswith(self.hosted_prefix):  # hosted: the count is still owed
                self._usage.pop(old, None)

    def _forget(self, url: str) -> None:
        self._docs.pop(url, None)
        self._fetched.pop(url, None)
        self._usage.pop(url, None)

    def _count_use(self, url: str) -> None:
        usage = self._usage.get(url)
        if usage is None:
            usage = self._usage[url] = _Usage()
        usage.hits += 1
        usage.last = _now()

    async def _load_hosted(self, url: str) -> Any | None:
        """The document of a @context this broker hosts, from the database; None when
        ``url`` is not under the hosted prefix."""
        if self.db is None or not url.startswith(self.hosted_prefix):
            return None
        cid = url[len(self.hosted_prefix) :]
        doc = None
        if _LOCAL_ID.fullmatch(cid):
            async with self.db.unit_of_work(transaction=False) as uow:
                doc = await repository.body(uow.connection, cid)
        if not isinstance(doc, dict):
            raise LdContextNotAvailable(f"The @context {url[:300]} is not hosted by this broker")
        return doc

    async def _prefetch(self, value: Any, depth: int = 0) -> None:
        """Fetch every URL ``value`` names, and those their documents name, once."""
        if depth > 8:
            raise e.BadRequestData("The @context nests references more than 8 levels deep")
        if isinstance(value, str):
            if not _looks_like_url(value):
                raise e.BadRequestData(f"The @context {value[:200]!r} is not a URL")
            try:
                self.resolve(value)
            except ContextNotAvailable:
                pass
            else:
                if value in self._docs:
                    self._count_use(value)
                return
            doc = await self._load_hosted(value)
            if doc is None:
                doc = await self._fetch(value)
                self.remember(value, doc)
            else:
                self._keep(value, doc)
            self._count_use(value)
            await self._prefetch(doc.get("@context"), depth + 1)
        elif isinstance(value, list):
            for item in value:
                await self._prefetch(item, depth + 1)
        elif isinstance(value, dict):
            for key in ("@import",):
                if isinstance(value.get(key), str):
                    await self._prefetch(value[key], depth + 1)

    def absolute(self, value: Any) -> Any:
        """``value`` with every absolute-path reference (``/ngsi-ld/v1/jsonldContexts/x``,
        as this broker's ``Location`` headers give them) resolved against the broker's public
        URL: the base IRI of a document sent to the broker is the broker (JSON-LD 1.1, 4.1.2;
        RFC 3986, 5.2)."""
        if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
            return self.public_url + value
        if isinstance(value, list):
            return [self.absolute(v) for v in value]
        return value

    async def compiled(self, value: Any) -> CompiledContext:
        """The compiled context of a request's @context value (None: the core context)."""
        if value is not None:
            value = self.absolute(value)
            await self._prefetch(value)
        try:
            return get_compiled(value, self.resolve)
        except ContextNotAvailable as exc:
            raise LdContextNotAvailable(f"The @context {exc.url} is not available") from None
        except ContextError as exc:
            raise e.BadRequestData(f"The @context is not valid: {exc}") from None

    # --- @context management (5.13) ----------------------------------------------------
    def hosted_url(self, cid: str) -> str:
        """The URL the hosted @context ``cid`` is served at."""
        return self.hosted_prefix + cid

    def _database(self) -> Database:
        if self.db is None:
            raise e.ServiceUnavailable("This broker has no storage for @contexts")
        return self.db

    def _validate(self, value: Any) -> None:
        """Check a @context without fetching anything: the URLs it names that the broker
        does not hold yet count as empty contexts here (they are fetched when used)."""

        def offline(url: str) -> Any:
            known = bundled_document(url) or self._docs.get(url)
            return known if known is not None else {"@context": {}}

        try:
            compile_context(value, offline)
        except ContextError as exc:
            raise e.BadRequestData(f"The @context is not valid: {exc}") from None

    async def add(self, tenant: str, body: Any, *, kind: str = HOSTED) -> str:
        """Add @context (5.13.2): check it, store it as Hosted (or ImplicitlyCreated, for
        the inline @context of a subscription, 5.13.1); its local id."""
        if not isinstance(body, dict) or "@context" not in body:
            raise e.InvalidRequest("The body must be a JSON object with an @context member")
        doc = {"@context": body["@context"]}
        if len(orjson.dumps(doc)) > MAX_CONTEXT_BYTES:
            raise e.PayloadTooLarge("A hosted @context may not be larger than 512 KB")
        self._validate(doc["@context"])
        # The URLs it names are fetched now, when they can be, and kept as Cached contexts
        # (5.13.2); one that cannot be had now does not refuse the addition.
        with contextlib.suppress(e.DomainError):
            await self._prefetch(doc["@context"])
        cid = uuid.uuid4().hex
        async with self._database().unit_of_work(transaction=False) as uow:
            await repository.insert(uow.connection, tenant, cid, kind, doc, _now())
        self._keep(self.hosted_url(cid), doc)
        return cid

    async def _add_usage(self, conn: asyncpg.Connection) -> None:
        """Move the uses of hosted @contexts counted in memory to the database."""
        prefix = self.hosted_prefix
        urls: list[str] = []
        hits_owed: list[int] = []
        lasts: list[datetime] = []
        for url, usage in self._usage.items():
            if url.startswith(prefix) and usage.hits > 0 and usage.last is not None:
                urls.append(url)
                hits_owed.append(usage.hits)
                lasts.append(usage.last)
        if not urls:
            return
        await repository.add_usage(conn, [u[len(prefix) :] for u in urls], hits_owed, lasts)
        for url, hits in zip(urls, hits_owed, strict=True):
            left = self._usage.get(url)
            if left is not None:
                left.hits -= hits
                if left.hits <= 0:
                    del self._usage[url]

    def _stored_info(self, row: StoredContext) -> ContextInfo:
        url = row.url or self.hosted_url(row.id)
        usage = self._usage.get(url) or _Usage()
        last = max((t for t in (row.last_usage, usage.last) if t is not None), default=None)
        return ContextInfo(
            url, row.id, row.kind, row.created_at, row.number_of_hits + usage.hits, last
        )

    def _cached_info(self, url: str, fetched_at: datetime) -> ContextInfo:
        usage = self._usage.get(url) or _Usage()
        return ContextInfo(url, _local_id(url), CACHED, fetched_at, usage.hits, usage.last)

    async def list_contexts(
        self, tenant: str, *, kind: str | None, usage: bool
    ) -> list[ContextInfo]:
        """List @contexts (5.13.3): those stored for the tenant, then the cached ones."""
        found: list[ContextInfo] = []
        if kind != CACHED:
            async with self._database().unit_of_work(transaction=False) as uow:
                if usage:
                    await self._add_usage(uow.connection)
                rows = await repository.list_(uow.connection, tenant, kind)
            found.extend(self._stored_info(row) for row in rows)
        if kind in (None, CACHED):
            found.extend(self._cached_info(url, at) for url, at in self._fetched.items())
        return found

    async def _find(self, tenant: str, context_id: str, *, usage: bool) -> _Found | None:
        """A stored @context by local id (or hosted URL), a cached one by URL or local id,
        or a bundled core @context by URL."""
        cid = context_id.removeprefix(self.hosted_prefix)
        if _LOCAL_ID.fullmatch(cid):
            async with self._database().unit_of_work(transaction=False) as uow:
                if usage:
                    await self._add_usage(uow.connection)
                row = await repository.get(uow.connection, tenant, cid)
            if row is not None:
                return _Found(self._stored_info(row), row.body)
            url = next((u for u in self._fetched if _local_id(u) == cid), None)
        else:
            url = context_id
        if url is not None and url in self._fetched:
            return _Found(self._cached_info(url, self._fetched[url]), None)
        if context_id in BUNDLED:
            info = ContextInfo(context_id, _local_id(context_id), CACHED, self._started)
            return _Found(info, None, bundled=True)
        return None

    async def serve(self, tenant: str, context_id: str, *, details: bool) -> Any:
        """Serve @context (5.13.4): the document of a hosted @context, or the metadata of
        any stored one."""
        found = await self._find(tenant, context_id, usage=details)
        if found is None:
            raise e.NotFound(f"@context {context_id[:300]} does not exist")
        if details:
            return found.info.to_json()
        if found.document is None:
            raise e.OperationNotSupported(
                f"@context {found.info.url} is Cached: its content is served at that URL, "
                "this broker serves only its metadata (details=true)"
            )
        return found.document

    async def delete(self, tenant: str, context_id: str, *, reload: bool) -> None:
        """Delete and Reload @context (5.13.5)."""
        found = await self._find(tenant, context_id, usage=False)
        if reload:
            if found is None or found.info.kind != CACHED:
                what = "not known" if found is None else found.info.kind
                raise e.BadRequestData(
                    f"@context {context_id[:300]} is {what}: only a Cached @context is reloaded"
                )
            if not found.bundled:  # a bundled core @context is its own reference copy
                doc = await self._fetch(found.info.url)  # on failure the old copy stays
                self.remember(found.info.url, doc)
                clear_compiled()
            return
        if found is None:
            raise e.NotFound(f"@context {context_id[:300]} does not exist")
        if found.bundled:
            raise e.BadRequestData(f"The core @context {found.info.url} cannot be deleted")
        if found.info.kind != CACHED:
            async with self._database().unit_of_work(transaction=False) as uow:
                if not await repository.delete(uow.connection, tenant, found.info.local_id):
                    raise e.NotFound(f"@context {context_id[:300]} does not exist")
        self._forget(found.info.url)
        clear_compiled()
