"""This process's search index (:mod:`catalogue.ckan.index`), kept at the catalogue's
write version.

The index is built from the records when the process starts (searches go to PostgreSQL
until it is ready) and follows every write after that: each write version lists the
datasets it changed (``catalogue_change``, written by the record triggers), and
:meth:`LiveIndex.update` re-reads just those, in one snapshot with the version. Whichever
replica wrote them, every replica therefore answers from the version it has read. A
search that finds the index behind updates it first; a background task also updates it
every ``refresh_s`` so that searches seldom wait for it.

A TRUNCATE, an index older than the listed changes or a change of most datasets rebuilds
it (searches go to PostgreSQL meanwhile). Once the changed part of the index has grown, a
fresh index is built beside it (the old one keeps answering) and replaces it. Building
reads the records in chunks and compacts in a worker thread, so the event loop keeps
serving requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from catalogue.ckan import repository
from catalogue.ckan.index import SearchIndex
from mims_shared.db import Database

log = logging.getLogger(__name__)


class LiveIndex:
    def __init__(self, db: Database, *, enabled: bool = True, refresh_s: float = 1.0) -> None:
        self.db = db
        self.enabled = enabled
        self.refresh_s = refresh_s
        self.index: SearchIndex | None = None
        self._lock = asyncio.Lock()
        self._build: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Build the index in the background (no-op when building or disabled), and keep
        it at the database's version."""
        if not self.enabled:
            return
        loop = asyncio.get_running_loop()
        if self._build is None or self._build.done():
            self._build = loop.create_task(self._rebuild())
        if self.refresh_s > 0 and (self._refresh is None or self._refresh.done()):
            self._refresh = loop.create_task(self._follow())

    async def ready(self) -> bool:
        """Wait for a build under way; whether the index is there."""
        if self._build is not None:
            await asyncio.shield(self._build)
        return self.index is not None

    async def close(self) -> None:
        for task in (self._refresh, self._build):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                if self.index is not None:
                    await self.update()
            except Exception:
                log.exception("the search index could not follow the catalogue")

    async def _rebuild(self) -> None:
        try:
            async with self.db.unit_of_work(transaction=False) as uow:
                conn = uow.connection
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    version, _ = await repository.index_state(conn)
                    fresh = SearchIndex(version, repository.INDEX_COLUMNS)
                    async for doc in repository.index_docs(conn, None):
                        fresh.add(doc)
            fresh.finish(version)
            await asyncio.to_thread(fresh.compact)  # nobody else sees ``fresh`` yet
            async with self._lock:
                # even if the current index is further on: searches bring it up to date
                self.index = fresh
            log.info("search index built: %d datasets at version %d", len(fresh), version)
        except Exception:
            log.exception("the search index could not be built; searches use SQL")

    async def update(self) -> SearchIndex | None:
        """The index at the database's current version, or None (searches then go to
        PostgreSQL) while it is being built."""
        async with self._lock:
            idx = self.index
            if idx is None:
                self.start()
                return None
            async with self.db.unit_of_work(transaction=False) as uow:
                conn = uow.connection
                async with conn.transaction(isolation="repeatable_read", readonly=True):
                    version, pruned = await repository.index_state(conn)
                    if version == idx.version:
                        return idx
                    changed: list[str | None] | None = None
                    if idx.version >= pruned:
                        changed = await repository.changed_since(conn, idx.version, version)
                    if (
                        changed is None
                        or (changed and changed[0] is None)
                        or len(changed) > max(10_000, len(idx))
                    ):
                        self.index = None  # too old, or (nearly) every dataset changed
                        self.start()
                        return None
                    ids = [i for i in changed if i is not None]
                    docs = [d async for d in repository.index_docs(conn, ids)]
            # from here on no await: other searches see the old version or the new one
            for did in ids:
                idx.remove(did)
            for doc in docs:
                idx.add(doc)
            idx.finish(version)
            if idx.appended > max(1000, len(idx) // 20):
                self.start()  # a compact index is built beside this one
            return idx
