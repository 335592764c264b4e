"""A small closed-loop HTTP/1.1 load generator (keep-alive, N connections, fixed duration).

It runs in its own process so that it does not share an event loop with the servers. Each
connection sends a request, reads the whole response, and sends the next: throughput and
latency percentiles come from the completed requests after a warm-up.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Builds the n-th request: (method, path, headers, body).
RequestFactory = Callable[[int], tuple[str, str, dict[str, str], bytes]]


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value)
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _run(
    host: str,
    port: int,
    make: RequestFactory,
    connections: int,
    warmup: float,
    duration: float,
    start_index: int,
) -> Result:
    counter = start_index
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    t0 = time.perf_counter()
    measure_from = t0 + warmup
    stop_at = measure_from + duration

    async def worker() -> None:
        nonlocal counter, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                now = time.perf_counter()
                if now >= stop_at:
                    return
                counter += 1
                method, path, headers, body = make(counter)
                lines = [
                    f"{method} {path} HTTP/1.1",
                    f"Host: {host}:{port}",
                    f"Content-Length: {len(body)}",
                ]
                lines += [f"{k}: {v}" for k, v in headers.items()]
                writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
                started = time.perf_counter()
                status = await _read_response(reader)
                ended = time.perf_counter()
                if started >= measure_from and ended <= stop_at:
                    latencies.append((ended - started) * 1000)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status >= 400:
                        errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(len(latencies), duration, latencies, errors, statuses)


def run(
    host: str,
    port: int,
    make: RequestFactory,
    *,
    connections: int = 10,
    warmup: float = 1.0,
    duration: float = 5.0,
    start_index: int = 0,
) -> Result:
    try:
        import uvloop

        return uvloop.run(_run(host, port, make, connections, warmup, duration, start_index))
    except ImportError:
        return asyncio.run(_run(host, port, make, connections, warmup, duration, start_index))


def cpu_ns(pid: int) -> int:
    """CPU time a process has used so far, in ns (``/proc/<pid>/schedstat``): finer than
    :func:`cpu_seconds`, for the small batches of bench/history_cpu.py."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def local_server() -> str | None:
    """``DATABASE_URL``, which the CPU measurements need to name a server on this machine
    (its backends' CPU is read from /proc); None, said on stderr, without it."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        print("DATABASE_URL must name a PostgreSQL server on this machine", file=sys.stderr)
    return server or None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``): what a busy
    machine does not distort, unlike latency and throughput; 0 once the process is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving a database (a service's pooled connections),
    besides the one asking: their CPU is the database's share of a scenario."""
    import asyncpg

    from mims_shared.db import libpq_url

    conn = await asyncpg.connect(libpq_url(database_url))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]
