"""The outbox on real PostgreSQL, delivered over real HTTP: delivered rows go, failing rows
are retried with backoff until they are given up, with their last error kept."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from conftest import free_port
from marketplace.events.dispatcher import Dispatcher
from marketplace.settings import MarketSettings
from mims_shared.settings import open_database

Receiver = Any


async def test_delivery_retries_and_giving_up(
    settings_for: Callable[..., object], receiver: Receiver
) -> None:
    settings = settings_for("marketplace")
    assert isinstance(settings, MarketSettings)
    db = open_database(settings)
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    live = f"{receiver.url}/listener/outbox"
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            dispatcher = Dispatcher(db, client, poll_s=0.05, backoff_s=0.05, max_attempts=3)
            async with db.unit_of_work() as uow:  # as a write's calls_write queues them
                await uow.connection.execute(
                    "INSERT INTO outbox (method, url, body) "
                    "SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])",
                    ["POST", "PUT", "DELETE"],
                    [live, dead, live],
                    ['{"n": 1}', '{"n": 2}', None],
                )
                await uow.commit()
            receiver.fail_next = 1  # the first POST answers 500, its retry succeeds
            for _ in range(40):
                await dispatcher.round()
                async with db.unit_of_work(transaction=False) as uow:
                    rows = await uow.connection.fetch(
                        "SELECT url, attempts, last_error, next_attempt_at = 'infinity' AS dead "
                        "FROM outbox WHERE url = ANY($1::text[])",
                        [live, dead],
                    )
                if len(rows) == 1 and rows[0]["dead"]:
                    break
                await asyncio.sleep(0.05)
            assert [(r["url"], r["attempts"], r["dead"]) for r in rows] == [(dead, 3, True)]
            assert rows[0]["last_error"].startswith("ConnectError")
    finally:
        await db.dispose()
    got = [(r.method, r.body) for r in receiver.to("/listener/outbox")]
    # The first round sends concurrently; the POST refused once comes again after it.
    assert sorted(got, key=str) == sorted(
        [("POST", {"n": 1}), ("POST", {"n": 1}), ("DELETE", None)], key=str
    )
    assert got[-1] == ("POST", {"n": 1})
