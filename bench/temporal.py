"""Temporal scenarios of ``make bench`` (``make bench BENCH_ARGS="--only temporal"``).

(a) The write path with history on and off: two brokers from this code, each on its own fresh
database; in the second the history triggers of migrations/0006_history.sql are disabled.
Create Entity (the ParkingSpot of bench/__main__.py), then Update Attributes (a new status
observed at a new time, on 2,000 ParkingSpots in turn) are driven on each, in alternating
rounds so that both see the same machine, and the ratios on/off are printed (goal >= 0.8). On a
machine shared with other work the ratio moves a lot from run to run; the CPU time per create
of the broker and of its PostgreSQL backends (read from /proc when PostgreSQL runs on this
machine) per request is printed too, a figure that holds better.

(b) An aggregated temporal query over 100,000 instances of one attribute: a Device with one
instance written through the temporal API and 99,999 more added in SQL (one a minute, about
69 days), then ``options=aggregatedValues`` with totalCount, sum, avg, min, max, stddev and
sumsq, hourly (1,667 periods) and daily, one request at a time; p95 latency (goal <= 100
ms). distinctCount (which sorts the values of each period) is measured on its own row.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.loadgen import Result, backend_pids, cpu_seconds, run
from conftest import free_port
from mims_shared.db import libpq_url
from mims_stack.database import drop, prepare
from mims_stack.services import spec
from mims_stack.supervisor import service_env, start_service, wait_ready

RUN = uuid.uuid4().hex[:6]
TRIGGERS = ("entity_history_insert", "entity_history_update", "entity_history_delete")
INSTANCES = 100_000
DEVICE = f"urn:ngsi-ld:Device:bench-{RUN}"
#: "temperature" in the core @context (its @vocab).
TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"


def _spot(n: int, tag: str) -> bytes:
    from bench.__main__ import entity

    doc = json.loads(entity(n))
    doc["id"] = f"urn:ngsi-ld:ParkingSpot:temporal-{RUN}-{tag}-{n}"
    return json.dumps(doc).encode()


Maker = Callable[[int], tuple[str, str, dict[str, str], bytes]]
JSON = {"Content-Type": "application/json"}
#: Entities each broker holds before the updates (ParkingSpots, by batch create).
UPDATED = 2_000


def _creates(port: int, mode: str) -> Maker:
    """Create Entity (5.6.1): a new ParkingSpot per request."""

    def make(n: int) -> tuple[str, str, dict[str, str], bytes]:
        return "POST", "/ngsi-ld/v1/entities", JSON, _spot(n, mode)

    return make


def _updates(port: int, mode: str) -> Maker:
    """Update Attributes (5.6.2) as a sensor sends them: a new status observed at a new time,
    on one of ``UPDATED`` ParkingSpots in turn (loaded here by batch create)."""
    tag = f"{mode}-u"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for start in range(0, UPDATED, 500):
            batch = b"[" + b",".join(_spot(n, tag) for n in range(start, start + 500)) + b"]"
            resp = client.post("/ngsi-ld/v1/entityOperations/create", content=batch, headers=JSON)
            if resp.status_code != 201:
                raise RuntimeError(f"batch create answered {resp.status_code}: {resp.text[:300]}")
    statuses = ("free", "occupied", "closed", "unknown")
    origin = datetime(2026, 11, 26, tzinfo=UTC)

    def make(n: int) -> tuple[str, str, dict[str, str], bytes]:
        eid = f"urn:ngsi-ld:ParkingSpot:temporal-{RUN}-{tag}-{n % UPDATED}"
        at = (origin + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
        body = {"status": {"type": "Property", "value": statuses[n % 4], "observedAt": at}}
        return "PATCH", f"/ngsi-ld/v1/entities/{eid}/attrs", JSON, json.dumps(body).encode()

    return make


async def _databases(pg_url: str) -> dict[str, str]:
    svc = spec("context-broker")
    urls = {}
    for mode in ("on", "off"):
        name = f"mims_bench_temporal_{mode}_{RUN}"
        urls[mode] = (await prepare(pg_url, (svc,), {svc.name: name}))[svc.name]
    conn = await asyncpg.connect(libpq_url(urls["off"]))
    try:
        for trigger in TRIGGERS:  # constant names
            await conn.execute(f"ALTER TABLE entity DISABLE TRIGGER {trigger}")
    finally:
        await conn.close()
    return urls


async def _load_history(url: str) -> None:
    """99,999 instances of the Device's temperature after the first, one a minute."""
    conn = await asyncpg.connect(libpq_url(url))
    try:
        await conn.execute(
            """
            INSERT INTO attr_instance (entity_key, attr, at, observed_at, created_at,
                                       modified_at, num, inst)
            SELECT (SELECT key FROM temporal_entity WHERE tenant = '' AND id = $1), $2, m, m,
                   now(), now(), v,
                   jsonb_build_object('type', 'Property', 'value', v, 'observedAt',
                                      to_char(m AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
            FROM generate_series(1, $3::int - 1) AS g,
                 LATERAL (SELECT timestamptz '2026-01-01T00:00:00Z' + g * interval '1 minute' AS m,
                                 round((15 + 10 * sin(g / 720.0))::numeric, 2)::float8 AS v) AS x
            """,
            DEVICE,
            TEMPERATURE,
            INSTANCES,
        )
        await conn.execute("ANALYZE attr_instance")
    finally:
        await conn.close()


@dataclass
class _Cpu:
    """CPU seconds spent by the broker and its PostgreSQL backends, and the writes sent."""

    broker: float = 0.0
    database: float = 0.0
    writes: int = 0

    def line(self, write: str, mode: str) -> str:
        n = max(1, self.writes)
        pg = f"{self.database / n * 1e6:.0f} us" if self.database else "n/a (not local)"
        return (
            f"{write}, history {mode}: broker CPU {self.broker / n * 1e6:.0f} us, "
            f"PostgreSQL backends {pg} per request ({self.writes} requests)"
        )

    @property
    def per_write(self) -> float:
        return (self.broker + self.database) / max(1, self.writes)


def _row(r: Result, base: Result | None) -> dict[str, float | int | None]:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.percentile(50), 2),
        "p95_ms": round(r.percentile(95), 2),
        "errors": r.errors,
        "ratio": round(r.rps / base.rps, 3) if base and base.rps else None,
    }


def _merged(parts: list[Result]) -> Result:
    return Result(
        sum(p.requests for p in parts),
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies_ms],
        sum(p.errors for p in parts),
        {},
    )


def scenarios(pg_url: str, duration: float, connections: int) -> dict[str, dict[str, Any]]:
    """Run (a) and (b); their rows for the results table."""
    svc = spec("context-broker")
    urls = asyncio.run(_databases(pg_url))
    logs = Path(tempfile.mkdtemp(prefix="mims-bench-temporal-"))
    ports = {mode: free_port() for mode in urls}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for mode, url in urls.items():
            with (logs / f"broker-{mode}.log").open("wb") as log:
                env = service_env(svc, url, ports[mode], {})
                procs[mode] = start_service(svc, env, "127.0.0.1", ports[mode], log.fileno())
        for mode, proc in procs.items():
            wait_ready(f"http://127.0.0.1:{ports[mode]}", proc)
        rows: dict[str, dict[str, Any]] = {}
        for write, factory in (("Create Entity", _creates), ("Update Attributes", _updates)):
            makers = {mode: factory(ports[mode], mode) for mode in ("off", "on")}
            rounds: dict[str, list[Result]] = {"on": [], "off": []}
            cpu = {"on": _Cpu(), "off": _Cpu()}
            index = 0
            for _ in range(2):  # off, on, off, on: both modes see the same machine
                for mode in ("off", "on"):
                    sent = [0]

                    def counted(
                        n: int, make: Maker = makers[mode], sent: list[int] = sent
                    ) -> tuple[str, str, dict[str, str], bytes]:
                        sent[0] += 1
                        return make(n)

                    pids = asyncio.run(backend_pids(urls[mode]))
                    before = {p: cpu_seconds(p) for p in pids}
                    broker = cpu_seconds(procs[mode].pid)
                    r = run(
                        "127.0.0.1",
                        ports[mode],
                        counted,
                        connections=connections,
                        duration=duration / 2,
                        start_index=index,
                    )
                    cpu[mode].broker += cpu_seconds(procs[mode].pid) - broker
                    pids = asyncio.run(backend_pids(urls[mode]))
                    # Backends that appeared during the round count from zero.
                    cpu[mode].database += sum(cpu_seconds(p) - before.get(p, 0.0) for p in pids)
                    cpu[mode].writes += sent[0]
                    index += 1_000_000
                    rounds[mode].append(r)
            off, on = _merged(rounds["off"]), _merged(rounds["on"])
            for mode in ("off", "on"):
                print(cpu[mode].line(write, mode), flush=True)
            if cpu["off"].per_write:
                extra = cpu["on"].per_write / cpu["off"].per_write - 1
                print(
                    f"history: {extra:+.0%} CPU per {write} (broker + PostgreSQL backends)",
                    flush=True,
                )
            rows[f"broker {write}, history off"] = _row(off, None)
            rows[f"broker {write}, history on"] = _row(on, off)

        port = ports["on"]
        first = {
            "id": DEVICE,
            "type": "Device",
            "temperature": [
                {"type": "Property", "value": 15.0, "observedAt": "2026-01-01T00:00:00Z"}
            ],
        }
        resp = httpx.post(f"http://127.0.0.1:{port}/ngsi-ld/v1/temporal/entities", json=first)
        if resp.status_code != 201:
            raise RuntimeError(f"temporal create answered {resp.status_code}: {resp.text[:300]}")
        asyncio.run(_load_history(urls["on"]))
        methods = "totalCount,sum,avg,min,max,stddev,sumsq"
        base = (
            f"/ngsi-ld/v1/temporal/entities/{DEVICE}?options=aggregatedValues&aggrMethods={methods}"
        )
        check = httpx.get(f"http://127.0.0.1:{port}{base}&aggrPeriodDuration=P1D", timeout=30)
        total = sum(b[0] for b in check.json()["temperature"]["totalCount"])
        if total != INSTANCES:
            raise RuntimeError(f"the aggregation counted {total} instances, not {INSTANCES}")

        def hourly(n: int) -> tuple[str, str, dict[str, str], bytes]:
            return "GET", f"{base}&aggrPeriodDuration=PT1H", {}, b""

        def daily(n: int) -> tuple[str, str, dict[str, str], bytes]:
            return "GET", f"{base}&attrs=temperature&aggrPeriodDuration=P1D", {}, b""

        def distinct(n: int) -> tuple[str, str, dict[str, str], bytes]:
            return "GET", f"{base},distinctCount&aggrPeriodDuration=PT1H", {}, b""

        h = run("127.0.0.1", port, hourly, connections=1, duration=duration)
        d = run("127.0.0.1", port, daily, connections=1, duration=duration)
        dc = run("127.0.0.1", port, distinct, connections=1, duration=duration)
        return {
            **rows,
            "temporal aggregated, 100k instances, PT1H": _row(h, None),
            "temporal aggregated, 100k instances, P1D": _row(d, None),
            "temporal aggregated + distinctCount, PT1H": _row(dc, None),
        }
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(10)
        asyncio.run(drop(list(urls.values())))


def main(duration: float, connections: int) -> int:
    from mims_stack.database import server

    pg_url, embedded = server()
    try:
        results = scenarios(pg_url, duration, connections)
    finally:
        if embedded is not None and embedded.started_here:
            embedded.stop()
    print(f"\n{'scenario':46} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7} {'ratio':>7}")
    for name, r in results.items():
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(
            f"{name:46} {r['rps']:>9} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['errors']:>7} {ratio:>7}"
        )
    print("\nratio: history on to history off (goal >= 0.8); aggregated p95 goal <= 100 ms")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1
