"""Delivers the outbox over HTTP: at least once, with retries and exponential backoff.

Each round claims the due rows with ``FOR UPDATE SKIP LOCKED`` and a lease (so several
replicas share the work and a crashed one's rows come due again), sends them concurrently,
deletes what was delivered (2xx) and reschedules the rest ``backoff * 2**(attempt-1)``
seconds later, until ``max_attempts``; then the row stays with its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx

from marketplace.events import repository
from mims_shared.db import Database

log = logging.getLogger("marketplace.outbox")


class Dispatcher:
    def __init__(
        self,
        db: Database,
        client: httpx.AsyncClient,
        *,
        poll_s: float = 1.0,
        backoff_s: float = 0.5,
        max_attempts: int = 8,
        batch: int = 50,
    ) -> None:
        self.db = db
        self.client = client
        self.poll_s = poll_s
        self.backoff_s = backoff_s
        self.max_attempts = max_attempts
        self.batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was queued: deliver now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace_s: float = 10.0) -> None:
        """Let the round under way finish (its rows are then recorded), then stop; a round
        still running after ``grace_s`` is cancelled (its lease makes the rows due again)."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                delivered = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: try again later
                log.warning("outbox round failed: %s", exc)
                delivered = 0
            if delivered < self.batch and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)
                self._wake.clear()

    async def _send(self, row: Any) -> str | None:
        """None when delivered, else what went wrong."""
        try:
            resp = await self.client.request(
                row["method"],
                row["url"],
                json=row["body"] if row["body"] is not None else None,
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= resp.status_code < 300:
            return None
        return f"HTTP {resp.status_code}"

    async def round(self) -> int:
        """One claim-send-record round; the number of rows claimed."""
        lease = float(self.client.timeout.read or 10) + 5
        async with self.db.unit_of_work(transaction=False) as uow:
            rows = await repository.claim(uow.connection, self.batch, lease)
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._send(r) for r in rows))
        async with self.db.unit_of_work() as uow:
            await repository.done(
                uow.connection, [r["id"] for r, err in zip(rows, outcomes, strict=True) if not err]
            )
            for row, err in zip(rows, outcomes, strict=True):
                if err is None:
                    continue
                if row["attempts"] >= self.max_attempts:
                    log.warning("giving up %s %s: %s", row["method"], row["url"], err)
                    await repository.give_up(uow.connection, row["id"], err)
                else:
                    delay = self.backoff_s * 2 ** (row["attempts"] - 1)
                    await repository.retry(uow.connection, row["id"], delay, err)
            await uow.commit()
        return len(rows)
