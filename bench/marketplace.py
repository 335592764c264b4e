"""Marketplace scenarios (issue #6): list offerings with a filter and ``fields`` over 50k
offerings, and orders placed and completed end to end (with products and entitlements).

Goals: the list p95 ≤ 30 ms at 10 concurrent clients; ≥ 300 orders/s, an order being
``POST productOrder``, ``PATCH state=inProgress``, ``PATCH state=completed`` (three
requests, the last one creating the TMF637 product and the entitlement in one transaction).
Both are driven by closed-loop HTTP/1.1 clients as light as ``bench.loadgen``'s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import orjson

from bench.loadgen import Result, backend_pids, cpu_seconds, run
from mims_shared.db import jsonb, libpq_url

CAT = "/tmf-api/productCatalogManagement/v5"
ORD = "/tmf-api/productOrderingManagement/v5"
STATUSES = ("Launched", "Active", "Retired", "In design")
Row = dict[str, float | int | None]


async def load_offerings(database_url: str, count: int, base: str) -> None:
    """``count`` offerings written straight into the table, in the shape the service
    stores them (the load is not what is measured)."""
    stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    conn = await asyncpg.connect(libpq_url(database_url))
    try:
        rows = []
        for n in range(count):
            oid = uuid.uuid4()
            rows.append(
                (
                    "productOffering",
                    oid,
                    jsonb(
                        {
                            "@type": "ProductOffering",
                            "id": str(oid),
                            "href": f"{base}{CAT}/productOffering/{oid}",
                            "name": f"Offering {n}",
                            "description": "Live occupancy of the city's parking spots",
                            "version": "1.0",
                            "lifecycleStatus": STATUSES[n % 4],
                            "lastUpdate": stamp,
                            "category": [{"@type": "CategoryRef", "id": f"cat-{n % 20}"}],
                            "productOfferingPrice": [
                                {"@type": "ProductOfferingPriceRef", "id": "price-1"}
                            ],
                        }
                    ),
                )
            )
        await conn.copy_records_to_table(
            "tmf_resource", records=rows, columns=["kind", "id", "resource"]
        )
        # What autovacuum does shortly after a bulk load (statistics, visibility map).
        await conn.execute("VACUUM ANALYZE tmf_resource")
    finally:
        await conn.close()


def row(r: Result) -> Row:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.percentile(50), 2),
        "p95_ms": round(r.percentile(95), 2),
        "errors": r.errors,
        "ratio": None,
    }


class Connection:
    """A keep-alive HTTP/1.1 connection as light as ``bench.loadgen``'s, that also returns
    the response body (the order's id is needed for the next request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, ctype: str, body: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return int(raw[9:12]), await self.reader.readexactly(length) if length else b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _setup(base: str, catalogue: str) -> bytes:
    """A buyer, a dataset in the catalogue and a launched offering selling it; the body
    of an order for it."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        ds = f"bench-{uuid.uuid4().hex[:8]}"
        made = await client.post(
            f"{catalogue}/catalogue/v1/datasets",
            json={"identifier": ds, "title": {"en": "Bench"}, "description": {"en": "Bench"}},
        )
        if made.status_code != 201:
            raise RuntimeError(f"dataset: {made.status_code} {made.text[:300]}")
        party = (
            await client.post(
                "/tmf-api/partyManagement/v5/organization",
                json={"@type": "Organization", "name": "Bench buyer"},
            )
        ).json()["id"]
        offering = await client.post(
            f"{CAT}/productOffering",
            json={
                "@type": "ProductOffering",
                "name": "Bench parking data",
                "lifecycleStatus": "Launched",
                "dataResource": [
                    {
                        "id": ds,
                        "@referredType": "Dataset",
                        "tenant": "bench",
                        "entityType": ["ParkingSpot"],
                    }
                ],
            },
        )
        if offering.status_code != 201:
            raise RuntimeError(f"offering: {offering.status_code} {offering.text[:300]}")
    return orjson.dumps(
        {
            "@type": "ProductOrder",
            "productOrderItem": [
                {
                    "@type": "ProductOrderItem",
                    "id": "1",
                    "action": "add",
                    "productOffering": {"id": offering.json()["id"]},
                }
            ],
            "relatedParty": [
                {"role": "buyer", "partyOrPartyRole": {"@type": "PartyRef", "id": party}}
            ],
        }
    )


async def _orders(
    host: str, port: int, body: bytes, duration: float, clients: int
) -> tuple[int, list[float], int]:
    """Closed loop: each client places and completes orders one after another."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        conn = Connection(host, port)
        await conn.open()
        try:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                status, placed = await conn.request(
                    "POST", f"{ORD}/productOrder", "application/json", body
                )
                if status != 201:
                    errors += 1
                    continue
                url = f"{ORD}/productOrder/{orjson.loads(placed)['id']}"
                for state in (b'{"state":"inProgress"}', b'{"state":"completed"}'):
                    status, _ = await conn.request(
                        "PATCH", url, "application/merge-patch+json", state
                    )
                    if status != 200:
                        errors += 1
                        break
                else:
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return len(latencies), sorted(latencies), errors


def backend_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend of the database (local server only;
    a backend already gone is left out)."""
    found = {pid: cpu_seconds(pid) for pid in asyncio.run(backend_pids(database_url))}
    return {pid: used for pid, used in found.items() if used > 0}


def scenarios(
    host: str,
    port: int,
    catalogue_port: int,
    database_url: str,
    duration: float,
    connections: int,
    size: int = 50_000,
    pid: int | None = None,
) -> dict[str, Row]:
    """Both scenarios against the marketplace at ``host:port``; rows for the bench table."""
    base = f"http://{host}:{port}"
    asyncio.run(load_offerings(database_url, size, "http://localhost:8080"))
    results: dict[str, Row] = {}
    # The load is the only thing in this database: the filters select within it.
    for label, query in (
        ("status", "lifecycleStatus=Launched"),
        ("status+category", "lifecycleStatus=Launched&category.id=cat-4"),
    ):
        path = f"{CAT}/productOffering?{query}&fields=name,lifecycleStatus,category&limit=50"

        sent = [0]

        def listing(
            n: int, path: str = path, sent: list[int] = sent
        ) -> tuple[str, str, dict[str, str], bytes]:
            sent[0] += 1
            return "GET", f"{path}&offset={(n * 50) % 500}", {}, b""

        name = f"marketplace list {size // 1000}k offerings, {label}"
        cpu_before = cpu_seconds(pid) if pid else 0.0
        results[name] = row(run(host, port, listing, connections=connections, duration=duration))
        if pid and sent[0]:
            # Warm-up requests included: CPU and count both cover the whole run.
            used = (cpu_seconds(pid) - cpu_before) / sent[0] * 1000
            print(f"marketplace process CPU per list request ({label}): {used:.2f} ms", flush=True)
    body = asyncio.run(_setup(base, f"http://{host}:{catalogue_port}"))
    cpu_before = cpu_seconds(pid) if pid else 0.0
    pg_before = backend_cpu(database_url)
    done, latencies, errors = asyncio.run(_orders(host, port, body, duration, connections))
    if pid and done:
        # What a busy machine cannot hide: the marketplace process's own CPU per order.
        used = (cpu_seconds(pid) - cpu_before) / done * 1000
        print(f"marketplace process CPU per order (3 requests): {used:.2f} ms", flush=True)
    pg_after = backend_cpu(database_url)
    if done and pg_after:
        pg = sum(t - pg_before.get(p, 0.0) for p, t in pg_after.items()) / done * 1000
        print(f"PostgreSQL backends' CPU per order: {pg:.2f} ms", flush=True)

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    results["marketplace orders placed+completed (orders/s)"] = {
        "rps": round(done / duration, 1),
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "errors": errors,
        "ratio": None,
    }
    return results


def main() -> int:
    """``python -m bench.marketplace``: only these scenarios, on a stack of their own."""
    import argparse
    import tempfile

    from conftest import free_port
    from mims_stack.database import drop, prepare, server
    from mims_stack.services import SERVICES
    from mims_stack.supervisor import start_stack

    parser = argparse.ArgumentParser(prog="python -m bench.marketplace")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--offerings", type=int, default=50_000)
    args = parser.parse_args()
    pg_url, embedded = server()
    run_id = uuid.uuid4().hex[:6]
    names = {s.name: f"mims_bench_mp_{s.name.replace('-', '_')}_{run_id}" for s in SERVICES}
    urls = asyncio.run(prepare(pg_url, SERVICES, names))
    ports = {s.name: free_port() for s in SERVICES}
    stack = start_stack(urls, ports=ports, log_dir=Path(tempfile.mkdtemp(prefix="mims-bench-")))
    try:
        results = scenarios(
            "127.0.0.1",
            ports["marketplace"],
            ports["catalogue"],
            urls["marketplace"],
            args.duration,
            args.connections,
            args.offerings,
            stack.processes["marketplace"].pid,
        )
    finally:
        stack.stop()
        asyncio.run(drop(list(urls.values())))
        if embedded is not None and embedded.started_here:
            embedded.stop()
    print(f"{'scenario':46} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:46} {r['rps']:>9} {r['p50_ms']!s:>8} {r['p95_ms']!s:>8} {r['errors']:>7}")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
