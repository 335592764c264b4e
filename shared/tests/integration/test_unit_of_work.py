"""The unit of work against a real PostgreSQL: all or nothing, and clear unavailability."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from mims_shared.db import Database, database_url_for, jsonb, maintenance_url
from mims_shared.errors import ServiceUnavailable
from mims_shared.migrations import ensure_database


@pytest.fixture
async def db(pg_server: str) -> AsyncIterator[Database]:
    name = f"mims_test_uow_{uuid.uuid4().hex[:8]}"
    url = database_url_for(pg_server, name)
    await ensure_database(url)
    database = Database(url, application_name="test")
    async with database.unit_of_work() as uow:
        await uow.connection.execute("CREATE TABLE t (id int PRIMARY KEY, doc jsonb)")
        await uow.commit()
    yield database
    await database.dispose()
    conn = await asyncpg.connect(maintenance_url(url))
    try:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def count(db: Database) -> int:
    async with db.unit_of_work(transaction=False) as uow:
        return int(await uow.connection.fetchval("SELECT count(*) FROM t"))


async def test_commit_makes_work_durable_and_jsonb_round_trips(db: Database) -> None:
    doc = {"a": [1, 2.5, "é"], "b": {"c": None}, "big": 1e20}
    async with db.unit_of_work() as uow:
        await uow.connection.execute("INSERT INTO t VALUES (1, $1)", jsonb(doc))
        await uow.connection.execute("INSERT INTO t VALUES (2, $1)", jsonb([]))
        await uow.commit()
    async with db.unit_of_work(transaction=False) as uow:
        got = await uow.connection.fetchval("SELECT doc FROM t WHERE id = 1")
    assert got == {"a": [1, 2.5, "é"], "b": {"c": None}, "big": 1e20}
    assert await count(db) == 2


async def test_leaving_without_commit_rolls_back(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.connection.execute("INSERT INTO t VALUES (10, '{}')")
    assert await count(db) == 0


async def test_an_error_half_way_leaves_nothing(db: Database) -> None:
    with pytest.raises(asyncpg.UniqueViolationError):  # noqa: PT012 - the whole unit fails
        async with db.unit_of_work() as uow:
            await uow.connection.execute("INSERT INTO t VALUES (20, '{}')")
            await uow.connection.execute("INSERT INTO t VALUES (20, '{}')")
            await uow.commit()
    assert await count(db) == 0
    # The connection went back to the pool clean: the next unit of work works.
    async with db.unit_of_work() as uow:
        await uow.connection.execute("INSERT INTO t VALUES (21, '{}')")
        await uow.commit()
    assert await count(db) == 1


async def test_unreachable_database_is_service_unavailable() -> None:
    db = Database(
        "postgresql+asyncpg://nobody@127.0.0.1:1/none", application_name="t", connect_timeout_s=1
    )
    with pytest.raises(ServiceUnavailable, match="cannot be reached"):
        async with db.unit_of_work():
            pass
    assert await db.ping() is False
    await db.dispose()


async def test_optimistic_writes_lose_nothing_and_fall_back_to_a_lock(db: Database) -> None:
    """Concurrent read-modify-writes of one row: each lost race is tried again on the row
    as it then is; the last attempt locks the row."""
    import asyncio

    from mims_shared.db import LOST, Lost, optimistic

    async with db.unit_of_work() as uow:
        await uow.connection.execute("INSERT INTO t VALUES (1, '{\"n\": 0}')")
        await uow.commit()
    tries: list[bool] = []

    async def increment(conn: asyncpg.Connection, locked: bool) -> int | Lost:
        tries.append(locked)
        sql = "SELECT doc, xmin FROM t WHERE id = 1" + (" FOR UPDATE" if locked else "")  # noqa: S608
        row = await conn.fetchrow(sql)
        await asyncio.sleep(0)  # let the others read the same version
        n = row["doc"]["n"] + 1
        done = await conn.fetchval(
            "UPDATE t SET doc = $1 WHERE id = 1 AND xmin = $2 RETURNING 1",
            jsonb({"n": n}),
            row["xmin"],
        )
        return LOST if done is None else n

    results = await asyncio.gather(*(optimistic(db, increment) for _ in range(12)))
    assert sorted(results) == list(range(1, 13))
    assert any(tries) and tries.count(False) > 12  # races were lost, and some took the lock
    async with db.unit_of_work(transaction=False) as uow:
        assert await uow.connection.fetchval("SELECT doc FROM t WHERE id = 1") == {"n": 12}
