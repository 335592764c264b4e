"""``make bench``: our services beside a bare FastAPI + asyncpg baseline, in the same run.

Every figure is printed with its ratio to the baseline doing the same database work, so the
result does not depend on how fast this machine is. Options: ``--duration S`` per scenario,
``--connections N``. Results are also written to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from bench import catalogue, marketplace, temporal
from bench.gateway import GATEWAY_ENV, gateway_scenarios, token, with_token
from bench.loadgen import Result, run
from bench.mim2 import mim2_scenarios
from bench.notifications import notification_scenario
from conftest import free_port
from mims_shared.db import database_url_for, libpq_url
from mims_shared.migrations import ensure_database
from mims_stack.database import drop, prepare, server
from mims_stack.services import SERVICES
from mims_stack.supervisor import start_stack, wait_ready

HERE = Path(__file__).parent
RUN = uuid.uuid4().hex[:6]


def entity(n: int) -> bytes:
    """A ParkingSpot shaped like the Smart Data Models example: 10 attributes and location."""
    eid = f"urn:ngsi-ld:ParkingSpot:bench-{RUN}-{n}"
    doc = {
        "id": eid,
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": f"Spot {n}"},
        "category": {"type": "Property", "value": ["onStreet", "forDisabled"]},
        "status": {"type": "Property", "value": "free", "observedAt": "2026-11-26T10:00:00Z"},
        "width": {"type": "Property", "value": 2.4, "unitCode": "MTR"},
        "length": {"type": "Property", "value": 5.1, "unitCode": "MTR"},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:1"},
        "refDevice": {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{n}"},
        "description": {"type": "Property", "value": "On-street spot near the town hall"},
        "dateModified": {
            "type": "Property",
            "value": {"@type": "DateTime", "@value": "2026-11-26T10:00:00Z"},
        },
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [4.35 + n % 100 / 1e4, 50.85]},
        },
    }
    return json.dumps(doc).encode()


async def _settle(database_url: str) -> None:
    """VACUUM ANALYZE the broker's database after a bulk load, as autovacuum would soon do,
    then CHECKPOINT, as the checkpointer would within minutes: loading is not what the next
    scenarios measure, and an autovacuum of a million history rows, or the checkpoint that
    writes the gigabyte the load dirtied (with a full page image in the WAL for the first
    change of each page after it starts), running beside them would be."""
    conn = await asyncpg.connect(libpq_url(database_url))
    try:
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


#: Batch upsert requests a loader keeps in flight (a city's importer pipelines its batches:
#: one waits on the database while the next is parsed).
LOAD_IN_FLIGHT = 4


def batch_bodies(kind: str, size: int) -> Iterator[bytes]:
    """Batch upsert bodies of 1,000 ParkingSpots each (``entity``'s shape; ids, ``status``,
    name, device and location varying as there), made by filling one template: the
    loader's own CPU stays small beside the server's, as a real importer's would."""
    statuses = ["free", "occupied", "closed", "unknown"]
    template = json.loads(entity(0))
    template["id"], template["type"] = "@ID@", kind
    template["status"]["value"] = "@STATUS@"
    template["refDevice"]["object"] = "urn:ngsi-ld:Device:@N@"
    template["name"]["value"] = "Spot @N@"
    template["location"]["value"]["coordinates"][0] = "@LON@"
    text = json.dumps(template).replace("%", "%%")
    for hole, field in (
        ("@ID@", "%(id)s"),
        ("@STATUS@", "%(status)s"),
        ("@N@", "%(n)d"),
        ('"@LON@"', "%(lon)r"),  # the number, not a string
    ):
        text = text.replace(hole, field)
    for start in range(0, size, 1000):
        docs = [
            text
            % {
                "id": f"urn:ngsi-ld:{kind}:{n}",
                "status": statuses[n % 4],
                "n": n,
                "lon": 4.35 + n % 100 / 1e4,  # as entity(): 100 places
            }
            for n in range(start, min(size, start + 1000))
        ]
        yield ("[" + ",".join(docs) + "]").encode()


def load(host: str, port: int, path: str, bodies: Iterator[bytes]) -> float:
    """Send every body with ``LOAD_IN_FLIGHT`` requests in flight; the seconds it took."""
    import httpx

    async def go() -> float:
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=120) as client:

            async def worker() -> None:
                for body in bodies:  # shared: each body is taken by one worker
                    resp = await client.post(
                        path, content=body, headers={"Content-Type": "application/json"}
                    )
                    if resp.status_code not in (201, 204):
                        raise RuntimeError(f"{path} answered {resp.status_code}: {resp.text[:300]}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(LOAD_IN_FLIGHT)))
            return time.perf_counter() - started

    return asyncio.run(go())


def scale_scenario(
    host: str,
    port: int,
    base_port: int,
    size: int,
    duration: float,
    connections: int,
    database_url: str,
) -> dict[str, dict[str, float | int | None]]:
    """Load ``size`` entities of one type with batch upsert (1,000 per request,
    ``LOAD_IN_FLIGHT`` in flight, measured) beside the baseline upserting the same bodies as
    JSONB rows, let the database settle, then query ``type + q + page of 20`` under load
    (the p95 goal of issue #3)."""
    kind = f"Spot{size}x{RUN}"
    seconds = load(host, port, "/ngsi-ld/v1/entityOperations/upsert", batch_bodies(kind, size))
    base = load(host, base_port, "/rows/batch", batch_bodies(f"Base{size}x{RUN}", size))
    asyncio.run(_settle(database_url))
    path = f"/ngsi-ld/v1/entities?type={kind}&q=status%3D%3D%22free%22&limit=20"

    def query(n: int) -> tuple[str, str, dict[str, str], bytes]:
        return "GET", f"{path}&offset={(n * 20) % 2000}", {}, b""

    q = run(host, port, query, connections=connections, duration=duration)
    loaded: dict[str, dict[str, float | int | None]] = {}
    for name, spent, ratio in (
        (f"baseline batch upsert {size:,} rows (rows/s)", base, None),
        (f"batch upsert {size:,} entities (entities/s)", seconds, round(base / seconds, 3)),
    ):
        loaded[name] = {
            "rps": round(size / spent, 1),
            "p50_ms": None,
            "p95_ms": None,
            "errors": 0,
            "ratio": ratio,
        }
    return {**loaded, f"query type+q, page of 20, {size:,} entities": row(q, None)}


#: Groups of scenarios: the core data path, the scale curve, notification latency, the
#: marketplace (bench/marketplace.py), the temporal API (bench/temporal.py), the catalogue
#: (bench/catalogue.py), MIM2 validation (bench/mim2.py).
SCENARIOS = ("core", "scale", "notify", "market", "temporal", "catalogue", "mim2")


def row(r: Result, base: Result | None) -> dict[str, float | int | None]:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.percentile(50), 2),
        "p95_ms": round(r.percentile(95), 2),
        "errors": r.errors,
        "ratio": round(r.rps / base.rps, 3) if base and base.rps else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=[10_000, 100_000],
        help="entity counts for the batch-upsert and indexed-query scenarios",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="the groups of scenarios to run (default: all)",
    )
    parser.add_argument(
        "--indexed-attributes",
        default="status",
        help="the broker's BROKER_INDEXED_ATTRIBUTES ('' for none)",
    )
    parser.add_argument("--notify-rate", type=float, default=500.0, help="updates/s")
    parser.add_argument("--catalogue", type=int, default=100_000, help="datasets (0: skip)")
    args = parser.parse_args()
    if args.only == ["temporal"]:  # runs on its own databases, no stack needed
        return temporal.main(args.duration, args.connections)

    pg_url, embedded = server()
    names = {s.name: f"mims_bench_{s.name.replace('-', '_')}_{RUN}" for s in SERVICES}
    urls = asyncio.run(prepare(pg_url, SERVICES, names))
    baseline_url = database_url_for(pg_url, f"mims_bench_baseline_{RUN}")
    asyncio.run(ensure_database(baseline_url))

    logs = Path(tempfile.mkdtemp(prefix="mims-bench-"))
    ports = {s.name: free_port() for s in SERVICES}
    # The operator of the benchmark's city declares the attribute its query pages by
    # (entities/indexed.py): every ParkingSpot write pays its index entry.
    env_all = {**GATEWAY_ENV, "BROKER_INDEXED_ATTRIBUTES": args.indexed_attributes}
    stack = start_stack(urls, ports=ports, log_dir=logs, extra_env=env_all)
    bport = free_port()
    env = {**os.environ, "BENCH_BASELINE_DSN": libpq_url(baseline_url)}
    with (logs / "baseline.log").open("wb") as log:
        baseline = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.baseline:create_app",
                "--port",
                str(bport),
                "--no-access-log",
            ],
            env=env,
            stdout=log,
            stderr=log,
            cwd=HERE.parent,
        )
    results: dict[str, dict[str, float | int | None]] = {}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                import httpx

                if httpx.get(f"http://127.0.0.1:{bport}/rows/none").status_code == 404:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or baseline.poll() is not None:
                raise RuntimeError(f"the baseline did not start; see {logs}/baseline.log")
            time.sleep(0.1)
        wait_ready(stack.urls["gateway"], stack.processes["gateway"])
        host = "127.0.0.1"
        d, c = args.duration, args.connections
        bp, broker, gw = bport, ports["context-broker"], ports["gateway"]
        json_h = {"Content-Type": "application/json"}

        def base_insert(n: int) -> tuple[str, str, dict[str, str], bytes]:
            return "POST", "/rows", {**json_h, "x-id": f"b-{n}"}, entity(n)

        def broker_create(n: int) -> tuple[str, str, dict[str, str], bytes]:
            return "POST", "/ngsi-ld/v1/entities", json_h, entity(n)

        print(f"Benchmark: {c} connections, {d:.0f}s per scenario (after 1s warm-up)", flush=True)
        if "core" in args.only:
            b_ins = run(host, bp, base_insert, connections=c, duration=d)
            o_ins = run(host, broker, broker_create, connections=c, duration=d)
            inserted = min(b_ins.requests, o_ins.requests)

            def base_select(n: int) -> tuple[str, str, dict[str, str], bytes]:
                return "GET", f"/rows/b-{n % inserted + 1}", {}, b""

            def broker_get(n: int) -> tuple[str, str, dict[str, str], bytes]:
                return (
                    "GET",
                    f"/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:bench-{RUN}-{n % inserted + 1}",
                    {},
                    b"",
                )

            b_sel = run(host, bp, base_select, connections=c, duration=d)
            o_sel = run(host, broker, broker_get, connections=c, duration=d)
            g_sel = run(host, gw, broker_get, connections=c, duration=d)
            g_auth = gateway_scenarios(host, gw, broker_get, c, d, stack.processes["gateway"].pid)
            results = {
                "baseline insert one JSONB row": row(b_ins, None),
                "broker Create Entity": row(o_ins, b_ins),
                "baseline select one row": row(b_sel, None),
                "broker Retrieve Entity": row(o_sel, b_sel),
                "gateway -> broker Retrieve Entity (anonymous)": row(g_sel, o_sel),
                **{name: row(r, o_sel) for name, r in g_auth.items()},
            }
            for name, r in g_auth.items():
                added = r.percentile(50) - o_sel.percentile(50)
                print(f"{name}: added p50 at {c} clients {added:.2f} ms", flush=True)
            # The latency the hop itself adds, without queueing: one client, direct and through
            # the gateway with a token. (At 10 saturating clients the p50 difference is mostly
            # the throughput ratio: 10 / (ratio x rate) - 10 / rate.)
            alone = run(host, broker, broker_get, connections=1, duration=d)
            via = run(
                host,
                gw,
                with_token(broker_get, token(f"http://{host}:{gw}", "data-consumer")),
                connections=1,
                duration=d,
            )
            added = via.percentile(50) - alone.percentile(50)
            print(
                f"gateway added p50, one client (consumer JWT): {added:.2f} ms "
                f"({alone.percentile(50):.2f} direct, {via.percentile(50):.2f} through)",
                flush=True,
            )
        if "scale" in args.only:
            for size in args.scale:
                results.update(scale_scenario(host, broker, bp, size, d, c, urls["context-broker"]))
        if "notify" in args.only:
            results.update(
                notification_scenario(
                    host, broker, args.notify_rate, d, stack.processes["context-broker"].pid
                )
            )
        if "market" in args.only:
            mp, cat = ports["marketplace"], ports["catalogue"]
            results.update(marketplace.scenarios(host, mp, cat, urls["marketplace"], d, c))
        if "temporal" in args.only:
            results.update(temporal.scenarios(pg_url, d, c))
        if "mim2" in args.only:
            m2 = mim2_scenarios(host, broker, f"http://{host}:{ports['catalogue']}", d, c)
            off = m2["MIM2 Create ParkingSpot, validation off"]
            results.update({name: row(r, off) for name, r in m2.items()})
        if "catalogue" in args.only and args.catalogue:
            cat, dsn = ports["catalogue"], libpq_url(urls["catalogue"])
            pid = stack.processes["catalogue"].pid
            results.update(
                catalogue.scenario(host, cat, dsn, urls["catalogue"], pid, args.catalogue, d, c)
            )
    finally:
        baseline.terminate()
        baseline.wait(10)
        stack.stop()
        # The run's databases go with it (a 100k-entity broker with its history is gigabytes).
        asyncio.run(drop([*urls.values(), baseline_url]))
        if embedded is not None and embedded.started_here:
            embedded.stop()

    print(f"\n{'scenario':46} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'ratio':>7}")
    for name, shown in results.items():
        ratio = "" if shown["ratio"] is None else f"{shown['ratio']:.3f}"
        p50 = "" if shown["p50_ms"] is None else shown["p50_ms"]
        p95 = "" if shown["p95_ms"] is None else shown["p95_ms"]
        print(f"{name:46} {shown['rps']:>9} {p50:>8} {p95:>8} {shown['errors']:>7} {ratio:>7}")
    print(
        "\nratio: to the baseline doing the same database work (gateway: to the broker direct; "
        "MIM2: to validation off)"
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "connections": c,
                "duration_s": d,
                "results": results,
            },
            indent=2,
        )
    )
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
