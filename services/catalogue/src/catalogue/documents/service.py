"""The catalogue document (DCAT-AP 3.0.1 dcat:Catalog with its records), paged with the
Hydra Core Vocabulary (``hydra:PagedCollection``: first, next, previous and last page,
``totalItems``) as ckanext-dcat publishes it, filtered by ``modified_since``.

Turtle is streamed a chunk of records at a time, so the memory a page takes does not grow
with the catalogue (nor, beyond one chunk, with the page).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlencode

from catalogue.dcat.ckan import utc
from catalogue.dcat.rdf import (
    CATALOGUE_KINDS,
    Bundle,
    Mapper,
    PageLinks,
    Stored,
    serialize,
    turtle_body,
    turtle_prefix_block,
)
from catalogue.documents import repository
from catalogue.records.bundles import load_bundle, stored
from mims_shared.db import Database
from mims_shared.errors import BadRequestData

CHUNK = 50


class DocumentService:
    def __init__(
        self,
        db: Database,
        base_url: str,
        *,
        title: dict[str, str],
        description: dict[str, str],
        publisher_name: str,
        homepage: str | None,
    ) -> None:
        self.db = db
        self.base = base_url.rstrip("/")
        self.mapper = Mapper(self.base)
        self.title = title
        self.description = description
        self.publisher_name = publisher_name
        self.homepage = homepage
        self.kinds = list(CATALOGUE_KINDS)

    def _links(
        self, path: str, page: int, size: int, total: int, since: datetime | None
    ) -> PageLinks:
        last = max(1, -(-total // size))

        def url(n: int) -> str:
            params: dict[str, str | int] = {"page": n, "page_size": size}
            if since is not None:
                params["modified_since"] = since.isoformat()
            return f"{self.base}{path}?{urlencode(params)}"

        return PageLinks(
            this=url(page),
            first=url(1),
            last=url(last),
            next=url(page + 1) if page < last else None,
            previous=url(page - 1) if page > 1 else None,
            total=total,
            size=size,
        )

    async def _head(
        self, path: str, page: int, size: int, since: datetime | None
    ) -> tuple[PageLinks, list[Stored]]:
        async with self.db.unit_of_work(transaction=False) as uow:
            total = await repository.count(uow.connection, self.kinds, since)
            rows = await repository.page(uow.connection, self.kinds, since, (page - 1) * size, size)
        # Only the page's keys are kept for the head; records are read again per chunk.
        return self._links(path, page, size, total, since), [stored(r) for r in rows]

    async def _chunk(self, items: list[Stored]) -> Bundle:
        async with self.db.unit_of_work(transaction=False) as uow:
            return await load_bundle(uow.connection, items)

    async def document(
        self, path: str, media_type: str, page: int, size: int, since: datetime | None
    ) -> AsyncIterator[bytes]:
        """The page: checked and counted now, its bytes streamed by the iterator returned
        (chunk by chunk for Turtle, whole for the other syntaxes)."""
        if since is not None:
            try:
                since = utc(since)
            except OverflowError:
                raise BadRequestData("modified_since is out of range") from None
        links, items = await self._head(path, page, size, since)
        return self._stream(media_type, links, items)

    async def _stream(
        self, media_type: str, links: PageLinks, items: list[Stored]
    ) -> AsyncIterator[bytes]:
        head = self.mapper.new_graph()
        self.mapper.catalogue_head(
            head,
            title=self.title,
            description=self.description,
            publisher_name=self.publisher_name,
            homepage=self.homepage,
            page=links,
            items=items,
        )
        if media_type != "text/turtle":
            graph = head
            for start in range(0, len(items), CHUNK):
                bundle = await self._chunk(items[start : start + CHUNK])
                for st in bundle.items:
                    self.mapper.describe(graph, st, bundle)
            yield await asyncio.to_thread(serialize, graph, media_type)
            return
        yield turtle_prefix_block(self.mapper)
        yield turtle_body(head)
        for start in range(0, len(items), CHUNK):
            bundle = await self._chunk(items[start : start + CHUNK])
            graph = self.mapper.graph_of(bundle)
            yield await asyncio.to_thread(turtle_body, graph)
