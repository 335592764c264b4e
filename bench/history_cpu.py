"""What the history costs PostgreSQL per Create Entity, measured on one connection.

``python -m bench.history_cpu [--batches N] [--batch N]`` (``DATABASE_URL`` names a server
on this machine: the backend's CPU time is read from /proc). A fresh database with the
broker's migrations; one ParkingSpot (bench/__main__.py) created through the broker in
process gives the stored row; then the broker's own INSERT of that row under new ids, in
small batches that alternate between history on and off (the ``mims.history`` setting the
temporal API uses: the triggers fire and return at once), so that both see the same machine.
Printed: the backend's CPU per create (medians over the batches, and the median of the
paired on - off differences, which a busy machine moves least), the WAL per create (of the
whole server: other work on it adds to both), the trigger time of EXPLAIN ANALYZE, and the
history's size on disk. Run it on two branches to compare their history write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.loadgen import cpu_ns, local_server
from mims_shared.db import database_url_for, libpq_url
from mims_shared.migrations import ensure_database, migrate
from mims_stack.database import drop
from mims_stack.services import spec


async def stored_spot(url: str) -> tuple[list[str], dict[str, Any]]:
    """Types and attributes of a ParkingSpot as the broker stores them."""
    from bench.__main__ import entity
    from conftest import serve
    from context_broker.app import create_app
    from context_broker.settings import BrokerSettings

    settings = BrokerSettings(database_url=url, access_log=False, environment="test")
    async with serve(create_app(settings)) as client:
        resp = await client.post(
            "/ngsi-ld/v1/entities", content=entity(0), headers={"Content-Type": "application/json"}
        )
        if resp.status_code != 201:
            raise RuntimeError(f"create answered {resp.status_code}: {resp.text[:300]}")
    conn = await asyncpg.connect(libpq_url(url))
    try:
        row = await conn.fetchrow("SELECT types, attrs::text AS attrs FROM entity LIMIT 1")
    finally:
        await conn.close()
    assert row is not None
    return list(row["types"]), json.loads(row["attrs"])


async def measure(server: str, batches: int, batch: int) -> None:
    from context_broker.entities import repository
    from context_broker.entities.repository import StoredEntity

    name = f"mims_bench_history_cpu_{uuid.uuid4().hex[:6]}"
    url = database_url_for(server, name)
    await ensure_database(url)
    await migrate(url, spec("context-broker").migrations)
    conn = await asyncpg.connect(libpq_url(url))
    try:
        types, attrs = await stored_spot(url)
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        made = 0

        async def creates(n: int) -> None:
            nonlocal made
            for _ in range(n):
                made += 1
                now = datetime.now(UTC)
                e = StoredEntity(
                    f"urn:ngsi-ld:ParkingSpot:cpu-{made}", types, attrs, None, now, now
                )
                if not await repository.insert(conn, "", e):
                    raise RuntimeError("the entity exists")

        async def one(mode: str) -> tuple[float, float]:
            await conn.execute("SELECT set_config('mims.history', $1, false)", mode)
            await creates(5)  # the switch's own cost stays out
            lsn = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
            before = cpu_ns(pid)
            await creates(batch)
            spent = (cpu_ns(pid) - before) / batch / 1e3
            wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - $1::pg_lsn", lsn)
            return spent, float(wal) / batch

        on: list[float] = []
        off: list[float] = []
        wal: dict[str, list[float]] = {"on": [], "off": []}
        for i in range(batches + 1):
            for mode in ("on", "off") if i % 2 else ("off", "on"):
                spent, w = await one(mode)
                if i:  # the first round warms caches
                    (on if mode == "on" else off).append(spent)
                    wal[mode].append(w)
        await conn.execute("SELECT set_config('mims.history', 'on', false)")
        trigger: list[float] = []
        for _ in range(200):
            made += 1
            plan = await conn.fetchval(
                "EXPLAIN (ANALYZE, FORMAT JSON) INSERT INTO entity (tenant, id, types, attrs, "
                "created_at, modified_at) VALUES ('', $1, $2, $3, now(), now())",
                f"urn:ngsi-ld:ParkingSpot:cpu-{made}",
                types,
                json.dumps(attrs),
            )
            doc = json.loads(plan) if isinstance(plan, str) else plan
            trigger.append(sum(t["Time"] for t in doc[0].get("Triggers", [])) * 1e3)
        sizes = await conn.fetch(
            "SELECT c.relname, pg_relation_size(c.oid) AS size FROM pg_class c "
            "WHERE (c.relname LIKE 'attr_instance%' OR c.relname LIKE 'temporal_entity%') "
            "AND pg_relation_size(c.oid) > 8192 ORDER BY 1"
        )
    finally:
        await conn.close()
        await drop([url])
    diffs = [a - b for a, b in zip(on, off, strict=True)]
    print(f"PostgreSQL backend CPU per create, {len(on)} batches of {batch} each way:")
    print(f"  history off {statistics.median(off):.0f} us, on {statistics.median(on):.0f} us")
    print(f"  history: +{statistics.median(diffs):.0f} us (median of the paired differences)")
    print(
        f"WAL per create (whole server): off {statistics.median(wal['off']):.0f} B, "
        f"on {statistics.median(wal['on']):.0f} B"
    )
    trigger.sort()
    print(f"history trigger, EXPLAIN ANALYZE of 200 creates: median {trigger[100]:.0f} us")
    for r in sizes:
        print(f"  {r['relname']}: {r['size'] // 1024} KiB")
    print(f"  ({made} entities)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    server = local_server()
    if not server:
        return 2
    asyncio.run(measure(server, args.batches, args.batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
