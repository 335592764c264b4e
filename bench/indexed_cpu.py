"""What a declared attribute costs PostgreSQL per Create Entity, measured on one connection.

``python -m bench.indexed_cpu [--batches N] [--batch N] [--preload N]`` (``DATABASE_URL``
names a server on this machine: the backend's CPU time is read from /proc). A fresh
database with the broker's migrations and the index of ``status`` declared
(``BROKER_INDEXED_ATTRIBUTES=status``, entities/indexed.py), ``--preload`` ParkingSpots in
it; then the broker's own INSERT of the stored ParkingSpot (bench/__main__.py) under new
ids, in small batches that alternate between the row as it is (its ``status`` gets an
index entry) and the same row with ``status`` stored under another IRI of the same length,
which no index covers. Same row size, same triggers, same machine: the paired difference
is the index entry. Printed: the backend's CPU and the WAL per create, both ways.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from datetime import UTC, datetime

import asyncpg

from bench.history_cpu import stored_spot
from bench.loadgen import cpu_ns, local_server
from mims_shared.db import database_url_for, libpq_url
from mims_shared.migrations import ensure_database, migrate
from mims_stack.database import drop
from mims_stack.services import spec

STATUS = "https://uri.etsi.org/ngsi-ld/status"
#: The same length as STATUS, declared by nobody.
OTHER = "https://uri.etsi.org/ngsi-ld/statux"


async def measure(server: str, batches: int, batch: int, preload: int) -> None:
    from context_broker.entities import repository
    from context_broker.entities.indexed import ensure_indexes, index_name
    from context_broker.entities.repository import StoredEntity

    url = database_url_for(server, f"mims_bench_indexed_cpu_{uuid.uuid4().hex[:6]}")
    await ensure_database(url)
    await migrate(url, spec("context-broker").migrations)
    conn = await asyncpg.connect(libpq_url(url))
    try:
        types, attrs = await stored_spot(url)
        plain = {(OTHER if k == STATUS else k): v for k, v in attrs.items()}
        statuses = ["free", "occupied", "closed", "unknown"]
        await conn.execute("SELECT set_config('mims.history', 'off', false)")
        await conn.copy_records_to_table(
            "entity",
            records=[
                (
                    "",
                    f"urn:ngsi-ld:ParkingSpot:pre-{n}",
                    types,
                    json.dumps({**attrs, STATUS: {**attrs[STATUS], "value": statuses[n % 4]}}),
                )
                for n in range(preload)
            ],
            columns=["tenant", "id", "types", "attrs"],
        )
        await conn.execute("SELECT set_config('mims.history', 'on', false)")
        await ensure_indexes(url, [STATUS])
        await conn.execute("VACUUM ANALYZE entity")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        made = 0

        async def creates(n: int, doc: dict[str, object]) -> None:
            nonlocal made
            for _ in range(n):
                made += 1
                now = datetime.now(UTC)
                e = StoredEntity(f"urn:ngsi-ld:ParkingSpot:cpu-{made}", types, doc, None, now, now)
                if not await repository.insert(conn, "", e):
                    raise RuntimeError("the entity exists")

        async def one(doc: dict[str, object]) -> tuple[float, float]:
            await creates(5, doc)
            lsn = await conn.fetchval("SELECT pg_current_wal_insert_lsn()")
            before = cpu_ns(pid)
            await creates(batch, doc)
            spent = (cpu_ns(pid) - before) / batch / 1e3
            wal = await conn.fetchval("SELECT pg_current_wal_insert_lsn() - $1::pg_lsn", lsn)
            return spent, float(wal) / batch

        keyed: list[tuple[float, float]] = []
        unkeyed: list[tuple[float, float]] = []
        for i in range(batches + 1):
            for mode in ("keyed", "unkeyed") if i % 2 else ("unkeyed", "keyed"):
                got = await one(attrs if mode == "keyed" else plain)
                if i:  # the first round warms caches
                    (keyed if mode == "keyed" else unkeyed).append(got)
        entries = await conn.fetchval("SELECT count(*) FROM entity WHERE attrs ? $1", STATUS)
        size = await conn.fetchval("SELECT pg_relation_size(to_regclass($1))", index_name(STATUS))
    finally:
        await conn.close()
        await drop([url])
    diffs = [a[0] - b[0] for a, b in zip(keyed, unkeyed, strict=True)]
    wal = [a[1] - b[1] for a, b in zip(keyed, unkeyed, strict=True)]
    print(f"PostgreSQL backend CPU per create, {len(keyed)} batches of {batch} each way:")
    print(
        f"  without an index entry {statistics.median(a for a, _ in unkeyed):.0f} us, "
        f"with one {statistics.median(a for a, _ in keyed):.0f} us"
    )
    print(f"  the index entry: +{statistics.median(diffs):.1f} us (median of paired differences)")
    print(f"  WAL: +{statistics.median(wal):.0f} B per create (whole server)")
    print(f"  index: {entries} entries, {size // 1024} KiB ({size / max(entries, 1):.0f} B each)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--preload", type=int, default=20_000)
    args = parser.parse_args()
    server = local_server()
    if not server:
        return 2
    asyncio.run(measure(server, args.batches, args.batch, args.preload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
