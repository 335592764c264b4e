"""Notification latency: from the acknowledgement of a write to the receiver (issue #4 goal:
p95 <= 50 ms at 500 updates/s with 100 active subscriptions).

100 subscriptions each watch one entity; updates go round-robin over the 100 entities at a
fixed rate (open loop: a slow broker does not slow the sender down), so each update is
notified once. The receiver is an HTTP server in this process; the latency of an update is
the time from its 204 to the arrival of its notification (matched by the value written).
As the other scenarios (bench/loadgen.py), the first second is a warm-up, sent at the same
rate but not measured: the first notification of each new subscription costs more (its
p95 is printed apart).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import orjson

from bench.loadgen import cpu_seconds
from mims_shared import http1

SUBSCRIPTIONS = 100
#: Seconds sent at the rate before the measurement starts (as bench/loadgen.py's warm-up).
WARMUP_S = 1.0


class _Receiver:
    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.perf_counter()
                for entity in orjson.loads(body).get("data", []):
                    seq = entity.get("seq")
                    if isinstance(seq, dict) and isinstance(seq.get("value"), int):
                        self.arrived.setdefault(seq["value"], now)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # The broker closed a keep-alive connection, or the run is over.
            pass
        finally:
            writer.close()


async def _run(base: str, rate: float, duration: float, pid: int | None) -> dict[str, Any]:
    receiver = _Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    kind = f"Meter{uuid.uuid4().hex[:6]}"
    ids = [f"urn:ngsi-ld:{kind}:{n}" for n in range(SUBSCRIPTIONS)]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        batch = [{"id": i, "type": kind, "seq": {"type": "Property", "value": -1}} for i in ids]
        r = await client.post("/ngsi-ld/v1/entityOperations/upsert", json=batch)
        r.raise_for_status()
        subs = []
        for eid in ids:
            body = {
                "type": "Subscription",
                "entities": [{"id": eid, "type": kind}],
                "watchedAttributes": ["seq"],
                "notification": {
                    "attributes": ["seq"],
                    "endpoint": {"uri": f"http://127.0.0.1:{port}/notify"},
                },
            }
            created = await client.post("/ngsi-ld/v1/subscriptions", json=body)
            created.raise_for_status()
            subs.append(created.headers["location"])
        await asyncio.sleep(0.5)

        acked: dict[int, float] = {}
        errors = 0
        # The updates go through the lean HTTP/1.1 pool (mims_shared.http1): with httpx the
        # sender in this process used more CPU than the broker, so the benchmark measured
        # its own client. At most 64 updates in flight.
        in_flight = asyncio.Semaphore(64)
        pool = http1.Pool(base, max_idle=64, connect_timeout=10, read_timeout=30)
        json_header = [(b"content-type", b"application/json")]

        async def update(seq: int) -> None:
            nonlocal errors
            eid = ids[seq % len(ids)]
            body = orjson.dumps({"seq": {"type": "Property", "value": seq}})
            target = f"/ngsi-ld/v1/entities/{eid}/attrs".encode()
            try:
                async with in_flight:
                    resp = await pool.send("PATCH", target, json_header, body, retries=0)
                    await resp.read(1 << 20)
                    resp.release()
            except http1.UpstreamError:
                errors += 1
                return
            if resp.status == 204:
                acked[seq] = time.perf_counter()
            else:
                errors += 1

        warm = int(rate * WARMUP_S)
        total = warm + int(rate * duration)
        cpu_before = 0.0
        started = measured_from = time.perf_counter()
        tasks = []
        for seq in range(total):
            delay = started + seq / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if seq == warm:
                cpu_before = cpu_seconds(pid) if pid else 0.0
                measured_from = time.perf_counter()
            tasks.append(asyncio.create_task(update(seq)))
        await asyncio.gather(*tasks)
        sent_for = time.perf_counter() - measured_from
        warming = {s: t for s, t in acked.items() if s < warm}
        acked = {s: t for s, t in acked.items() if s >= warm}
        deadline = time.perf_counter() + 10
        while len(receiver.arrived) < len(acked) + len(warming) and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        first = sorted(
            (receiver.arrived[s] - t) * 1000 for s, t in warming.items() if s in receiver.arrived
        )
        if first:
            print(
                f"notify latency of the warm-up second (not measured): p50 "
                f"{first[len(first) // 2]:.1f} ms, p95 {first[int(len(first) * 0.95)]:.1f} ms",
                flush=True,
            )
        if pid and acked:
            # The broker's own CPU per update, its notification included: what a busy
            # machine does not distort.
            used = (cpu_seconds(pid) - cpu_before) / len(acked) * 1000
            print(f"broker process CPU per notified update: {used:.2f} ms", flush=True)
        pool.close()
        for location in subs:
            await client.delete(location)
    server.close()
    latencies = sorted(
        max(0.0, receiver.arrived[s] - acked[s]) * 1000 for s in acked if s in receiver.arrived
    )

    def pct(p: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2)

    return {
        "rps": round(len(acked) / sent_for, 1),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "errors": errors + (len(acked) - len(latencies)),
        "ratio": None,
    }


def notification_scenario(
    host: str, port: int, rate: float, duration: float, pid: int | None = None
) -> dict[str, dict[str, Any]]:
    result = asyncio.run(_run(f"http://{host}:{port}", rate, duration, pid))
    name = f"notify latency, {rate:.0f} updates/s, {SUBSCRIPTIONS} subs"
    return {name: result}
