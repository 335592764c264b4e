"""Catalogue scenarios of ``make bench`` (issue #5).

- ``package_search`` over N datasets with a text query and two facets, at 10 concurrent
  clients (goal: p95 <= 30 ms at 100k datasets); once counting the two facets over every
  match, once also filtering on both. These "cold" searches run against two more catalogue
  processes on the same database, both without a result cache, so every request is
  computed: A answers from the in-memory search index, B with the SQL statement; they run
  A-B-B-A and are pooled, and each reports its own CPU time per search and that of its
  PostgreSQL backends (``/proc``; a busy machine stretches latency, not CPU time). Every
  query of a run is distinct as well (the count of repeats is printed);
- the same search repeated (the first page of 60 queries) against the stack's catalogue,
  whose result cache then answers;
- creating a dataset through the JSON API (each write checked against the DCAT-AP SHACL
  shapes), to show what validation costs;
- ``/catalogue/catalog.ttl`` pages of 1,000 datasets taken from the start, middle and end of
  the catalogue, with the catalogue process's resident memory after each (goal: memory
  does not grow with the catalogue).

The N datasets (with one distribution each and 50 publishers) are written with SQL in the
shape the API stores them (same columns: search vector, facet arrays); loading 100k through
the API would take most of an hour of SHACL validation and is not what is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx

from bench.loadgen import RequestFactory, Result, cpu_seconds, run
from conftest import free_port
from mims_stack.services import spec
from mims_stack.supervisor import service_env, start_service, wait_ready

Row = dict[str, float | int | None]

_TEXT = """
parking traffic air quality noise water waste energy solar wind bicycle bus tram metro road
bridge tree park school library hospital museum theatre sport market tourism budget tax permit
license building housing population birth death election crime fire police flood rain
temperature humidity pollen ozone particle street light lamp sensor meter charging station
electric vehicle taxi ferry harbour airport canal river lake beach forest garden playground
bench toilet fountain monument heritage district zone address cadastre parcel zoning plan
event festival concert cinema restaurant hotel shop retail employment income poverty health
vaccination care elderly youth childcare education student teacher grade subsidy grant
contract procurement tender invoice expense revenue asset fleet fuel emission carbon climate
heat cold snow ice storm earthquake alarm siren camera count pedestrian footfall occupancy
"""
WORDS = list(dict.fromkeys(_TEXT.split()))
_THEMES = "AGRI ECON EDUC ENER ENVI GOVE HEAL INTR JUST REGI SOCI TECH TRAN"
THEMES = _THEMES.split()
FORMATS = ["CSV", "JSON", "JSON_LD", "GEOJSON", "XLSX", "PDF", "XML"]
LICENCES = ["CC_BY_4_0", "CC0", "ODC_ODBL", "CC_BYSA_4_0"]

_AGENTS = """
INSERT INTO record (kind, id, record, title_sort)
SELECT 'agent', $1 || 'org-' || g, jsonb_build_object('name', 'Department ' || g),
       'department ' || g
FROM generate_series(0, 49) g ON CONFLICT DO NOTHING
"""
_DATASETS = """
INSERT INTO record
  (kind, id, record, refs, themes, orgs, formats, licences, tags, models, title_sort)
SELECT 'dataset', $1 || g,
  jsonb_build_object(
    'title', jsonb_build_object('en', initcap(a) || ' ' || b || ' ' || c),
    'description', jsonb_build_object('en', 'Measurements of ' || d || ' and ' || e
                                      || ' in district ' || (g % 40) || ', updated daily'),
    'keyword', jsonb_build_array(d, f), 'theme', jsonb_build_array(t1, t2),
    'publisher', $1 || 'org-' || (g % 50), 'contactPoint', '[]'::jsonb,
    'conformsTo', '[]'::jsonb, 'language', '[]'::jsonb, 'inSeries', '[]'::jsonb),
  ARRAY['agent/' || $1 || 'org-' || (g % 50)],
  ARRAY(SELECT DISTINCT unnest(ARRAY[t1, t2]) ORDER BY 1), ARRAY[$1 || 'org-' || (g % 50)],
  ARRAY[fm], ARRAY[li], ARRAY(SELECT DISTINCT unnest(ARRAY[d, f]) ORDER BY 1), '{}',
  lower(a || ' ' || b || ' ' || c)
FROM generate_series($2::bigint, $3::bigint) g,
LATERAL (SELECT
  $4::text[] AS w, cardinality($4::text[]) AS n) v,
LATERAL (SELECT
  w[1 + abs(hashtext(g || 'a')) % n] a, w[1 + abs(hashtext(g || 'b')) % n] b,
  w[1 + abs(hashtext(g || 'c')) % n] c, w[1 + abs(hashtext(g || 'd')) % n] d,
  w[1 + abs(hashtext(g || 'e')) % n] e, w[1 + abs(hashtext(g || 'f')) % n] f,
  ($5::text[])[1 + (g % 13)::int] t1, ($5::text[])[1 + ((g / 13 + 5) % 13)::int] t2,
  ($6::text[])[1 + (g % 7)::int] fm, ($7::text[])[1 + (g % 4)::int] li) x
"""
_DISTRIBUTIONS = """
INSERT INTO record (kind, id, parent, record)
SELECT 'distribution', $1 || g || '-d', $1 || g,
  jsonb_build_object('dataset', $1 || g, 'accessURL', 'https://data.example.org/files/' || g,
                     'format', ($2::text[])[1 + g % 7], 'license', ($3::text[])[1 + g % 4],
                     'accessService', '[]'::jsonb, 'conformsTo', '[]'::jsonb,
                     'language', '[]'::jsonb)
FROM generate_series($4::int, $5::int) g
"""


async def load(dsn: str, prefix: str, size: int) -> float:
    """Write ``size`` datasets (with a distribution each); seconds taken."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_AGENTS, prefix)
        for start in range(1, size + 1, 10_000):
            end = min(size, start + 9_999)
            await conn.execute(_DATASETS, prefix, start, end, WORDS, THEMES, FORMATS, LICENCES)
            await conn.execute(_DISTRIBUTIONS, prefix, FORMATS, LICENCES, start, end)
        await conn.execute("ANALYZE record")
    finally:
        await conn.close()
    return time.perf_counter() - started


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def backends(dsn: str, app: str) -> list[int]:
    """PIDs of the PostgreSQL backends of the processes named ``app``."""

    async def pids() -> list[int]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app
            )
            return [int(r["pid"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(pids())


class Distinct:
    """Wraps a request factory and counts the requests that repeat an earlier one."""

    def __init__(self, make: RequestFactory) -> None:
        self.make = make
        self.seen: set[str] = set()
        self.repeats = 0
        self.calls = 0  # every request sent, the warm-up's included

    def __call__(self, n: int) -> tuple[str, str, dict[str, str], bytes]:
        self.calls += 1
        req = self.make(n)
        if req[1] in self.seen:
            self.repeats += 1
        self.seen.add(req[1])
        return req


@contextlib.contextmanager
def catalogues(
    db_url: str, modes: dict[str, dict[str, str]]
) -> Iterator[dict[str, tuple[int, int]]]:
    """Extra catalogue processes on the catalogue's database: ``{mode: (port, pid)}``.
    Each has its own application name, so its PostgreSQL backends can be told apart."""
    svc = spec("catalogue")
    logs = Path(tempfile.mkdtemp(prefix="mims-bench-catalogue-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports = {mode: free_port() for mode in modes}
    try:
        for mode, extra in modes.items():
            env = service_env(svc, db_url, ports[mode], {})
            env.update({"CATALOGUE_SERVICE_NAME": f"catalogue-{mode}", **extra})
            with (logs / f"catalogue-{mode}.log").open("wb") as log:
                procs[mode] = start_service(svc, env, "127.0.0.1", ports[mode], log.fileno())
        for mode, proc in procs.items():
            wait_ready(f"http://127.0.0.1:{ports[mode]}", proc)
        yield {mode: (ports[mode], procs[mode].pid) for mode in modes}
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _row(r: Result) -> Row:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.percentile(50), 2),
        "p95_ms": round(r.percentile(95), 2),
        "errors": r.errors,
        "ratio": None,
    }


async def _version(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT version FROM catalogue_version WHERE id = 1"))
    finally:
        await conn.close()


def _pooled(parts: list[Result]) -> Result:
    return Result(
        sum(p.requests for p in parts),
        sum(p.seconds for p in parts),
        [x for p in parts for x in p.latencies_ms],
        sum(p.errors for p in parts),
        {},
    )


def cold_scenarios(
    host: str,
    db_url: str,
    dsn: str,
    size: int,
    duration: float,
    connections: int,
) -> dict[str, Row]:
    """The cold searches on A (index) and B (SQL), A-B-B-A, with CPU time per search."""
    facets = urllib.parse.quote(json.dumps(["groups", "res_format"]))
    nw = len(WORDS)
    pairs = [(i, j) for i in range(nw) for j in range(i + 1, nw)]

    def one_word(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """One word, a page of 10 up to 1,000 deep: 12,600 distinct queries."""
        q, start = WORDS[n % nw], (n // nw) % 100 * 10
        path = f"/api/3/action/package_search?q={q}&facet.field={facets}&rows=10&start={start}"
        return "GET", path, {}, b""

    def two_words(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """Two different words: 7,875 distinct queries (unordered pairs)."""
        i, j = pairs[n % len(pairs)]
        q = urllib.parse.quote(f"{WORDS[i]} {WORDS[j]}")
        return "GET", f"/api/3/action/package_search?q={q}&facet.field={facets}&rows=10", {}, b""

    def filtered(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """One word, filters on two facets: 11,466 distinct queries."""
        q = WORDS[n % nw]
        theme, fmt = THEMES[(n // nw) % 13], FORMATS[(n // nw // 13) % 7]
        fq = urllib.parse.quote(f"groups:{theme.lower()} res_format:{fmt}")
        path = f"/api/3/action/package_search?q={q}&fq={fq}&facet.field={facets}&rows=10"
        return "GET", path, {}, b""

    scenarios: list[tuple[str, Callable[[int], tuple[str, str, dict[str, str], bytes]]]] = [
        (f"package_search 1 word + 2 facets, {size:,}, cold", one_word),
        (f"package_search 2 words + 2 facets, {size:,}, cold", two_words),
        (f"package_search 1 word + 2 filters + 2 facets, {size:,}, cold", filtered),
    ]
    no_cache = {"CATALOGUE_SEARCH_CACHE_SIZE": "0", "CATALOGUE_HARVEST_POLL_S": "0"}
    modes = {
        "index": {**no_cache, "CATALOGUE_SEARCH_INDEX": "true"},
        "sql": {**no_cache, "CATALOGUE_SEARCH_INDEX": "false"},
    }
    results: dict[str, Row] = {}
    with catalogues(db_url, modes) as servers:
        port, pid = servers["index"]
        started = time.perf_counter()
        while True:
            status = httpx.get(f"http://{host}:{port}/api/3/action/status_show").json()
            if status["result"]["mims_search_index"] is not None:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the search index was not built in 10 minutes")
            time.sleep(0.2)
        print(
            f"catalogue: search index of {size:,} datasets built in "
            f"{time.perf_counter() - started:.1f}s (after the process was ready), "
            f"{cpu_seconds(pid):.1f}s CPU since start, RSS {rss_kib(pid) / 1024:.0f} MiB",
            flush=True,
        )
        print(
            f"\n{'cold scenario':58} {'mode':>5} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'repeats':>7} {'CPU ms/search':>13} {'PG CPU ms':>9}"
        )
        offset = 0
        for name, make in scenarios:
            parts: dict[str, list[Result]] = {m: [] for m in modes}
            cpu = {m: [0.0, 0.0] for m in modes}
            repeats = dict.fromkeys(modes, 0)
            calls = dict.fromkeys(modes, 0)
            for mode in ("index", "sql", "sql", "index"):
                mport, mpid = servers[mode]
                app = f"catalogue-{mode}"
                pids = set(backends(dsn, app))
                before = cpu_seconds(mpid), {p: cpu_seconds(p) for p in pids}
                distinct = Distinct(make)
                r = run(
                    host,
                    mport,
                    distinct,
                    connections=connections,
                    duration=duration,
                    start_index=offset,
                )
                offset += 1_000_003  # the next run asks other queries
                pids |= set(backends(dsn, app))
                cpu[mode][0] += cpu_seconds(mpid) - before[0]
                # a backend that has exited since is counted up to the first reading
                cpu[mode][1] += sum(
                    max(cpu_seconds(p), before[1].get(p, 0.0)) - before[1].get(p, 0.0) for p in pids
                )
                parts[mode].append(r)
                repeats[mode] += distinct.repeats
                calls[mode] += distinct.calls
            for mode in modes:
                pooled = _pooled(parts[mode])
                total = calls[mode]  # CPU covers the warm-up too: every request sent
                row = _row(pooled)
                row["cpu_ms"] = round(cpu[mode][0] / total * 1000, 3) if total else None
                row["pg_cpu_ms"] = round(cpu[mode][1] / total * 1000, 3) if total else None
                results[f"{name}, {mode}"] = row
                print(
                    f"{name:58} {mode:>5} {row['rps']:>7} {row['p50_ms']:>7} "
                    f"{row['p95_ms']:>7} {repeats[mode]:>7} {row['cpu_ms']:>13} "
                    f"{row['pg_cpu_ms']:>9}",
                    flush=True,
                )
    return results


def scenario(
    host: str,
    port: int,
    dsn: str,
    db_url: str,
    pid: int,
    size: int,
    duration: float,
    connections: int,
) -> dict[str, Row]:
    prefix = f"bench{int(time.time()) % 100000}-"
    seconds = asyncio.run(load(dsn, prefix, size))
    print(f"catalogue: {size:,} datasets loaded with SQL in {seconds:.1f}s", flush=True)
    facets = urllib.parse.quote(json.dumps(["groups", "res_format"]))
    words = WORDS[:60]
    results: dict[str, Row] = cold_scenarios(host, db_url, dsn, size, duration, connections)

    def repeated(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """The first page of 60 one-word queries, asked again and again (cached)."""
        q = words[n % len(words)]
        return "GET", f"/api/3/action/package_search?q={q}&facet.field={facets}&rows=10", {}, b""

    def create(n: int) -> tuple[str, str, dict[str, str], bytes]:
        body = {
            "identifier": f"{prefix}api-{n}",
            "title": {"en": f"Dataset {n}"},
            "description": {"en": "Written through the API"},
            "theme": ["TRAN"],
            "publisher": f"{prefix}org-{n % 50}",
        }
        headers = {"Content-Type": "application/json"}
        return "POST", "/catalogue/v1/datasets", headers, json.dumps(body).encode()

    with httpx.Client(base_url=f"http://{host}:{port}", timeout=120) as client:
        # the stack's catalogue indexed an empty catalogue at start-up: wait until its
        # index has followed the bulk load (a rebuild), as a long-running replica would
        started = time.perf_counter()
        version = asyncio.run(_version(dsn))
        while True:
            status = client.get("/api/3/action/status_show").json()["result"]
            index = status["mims_search_index"]
            if index is not None and index["version"] >= version:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the stack catalogue's index did not follow the load")
            time.sleep(0.2)
        print(
            f"catalogue: the stack catalogue's index followed the load in "
            f"{time.perf_counter() - started:.1f}s more",
            flush=True,
        )
        probe = client.get(f"/api/3/action/package_search?q={words[0]}&facet.field={facets}").json()
        probe2 = client.get(f"/api/3/action/package_search?q={words[0]}%20{words[3]}").json()
        print(
            f"catalogue: q={words[0]} matches {probe['result']['count']:,} datasets, "
            f"q={words[0]} {words[3]} {probe2['result']['count']:,}",
            flush=True,
        )
        results |= {
            f"package_search 1 word + 2 facets, {size:,}, repeated": _row(
                run(host, port, repeated, connections=connections, duration=duration)
            ),
            "create dataset (JSON API, SHACL-checked)": _row(
                run(host, port, create, connections=connections, duration=duration)
            ),
        }
        rss_before = rss_kib(pid)
        total = size + 1000
        last = -(-total // 1000)
        pages = sorted({1, 2, last // 4, last // 2, 3 * last // 4, last - 1, last})
        worst_rss, slowest, biggest, trail = rss_before, 0.0, 0, []
        for page in pages:
            started = time.perf_counter()
            with client.stream("GET", f"/catalogue/catalog.ttl?page={page}&page_size=1000") as resp:
                got = sum(len(chunk) for chunk in resp.iter_bytes())
            slowest = max(slowest, time.perf_counter() - started)
            biggest = max(biggest, got)
            trail.append(rss_kib(pid) // 1024)
            worst_rss = max(worst_rss, trail[-1] * 1024)
        results[f"catalog.ttl page of 1,000 ({len(pages)} pages sampled)"] = {
            "rps": round(1 / slowest, 2) if slowest else None,
            "p50_ms": None,
            "p95_ms": round(slowest * 1000, 1),
            "errors": 0,
            "ratio": None,
        }
        print(
            f"catalogue: catalog.ttl pages {pages} of {last}: largest {biggest / 1e6:.1f} MB, "
            f"slowest {slowest:.2f}s, RSS {rss_before / 1024:.0f} MiB, then after each page "
            f"{trail} MiB",
            flush=True,
        )
        results["catalog.ttl RSS growth over sampled pages (MiB)"] = {
            "rps": round((worst_rss - rss_before) / 1024, 1),
            "p50_ms": None,
            "p95_ms": None,
            "errors": 0,
            "ratio": None,
        }
    return results
