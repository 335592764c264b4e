"""This process's search index (:mod:`catalogue.ckan.index`), kept at the catalogue's
write version.

The index is built from the records when the process starts (searches go to PostgreSQL
until it is ready) and follows every write after that: each write version lists the
datasets it changed (``catalogue_change``, written by the record triggers), and
:meth:`LiveIndex.update` re-reads just those, in one snapshot with the version. Whichever
replica wrote them, every replica therefore answers from the version it has read.
A TRUNCATE, or an index older than the listed changes, rebuilds it (in the background).
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
    def __init__(self, db: Database, *, enabled: bool = True) -> None:
        self.db = db
        self.enabled = enabled
        self.index: SearchIndex | None = None
        self._lock = asyncio.Lock()
        self._build: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Build the index in the background (no-op when building or disabled)."""
        if self.enabled and (self._build is None or self._build.done()):
            self._build = asyncio.get_running_loop().create_task(self._rebuild())

    async def ready(self) -> bool:
        """Wait for a build under way; whether the index is there."""
        if self._build is not None:
            await asyncio.shield(self._build)
        return self.index is not None

    async def close(self) -> None:
        if self._build is not None:
            self._build.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._build

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
            fresh.compact()
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
                idx.compact()
            return idx
