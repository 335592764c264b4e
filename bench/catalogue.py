"""Catalogue scenarios of ``make bench`` (issue #5).

- ``package_search`` over N datasets with a text query and two facets, at 10 concurrent
  clients (goal: p95 <= 30 ms at 100k datasets); once counting the two facets over every
  match, once also filtering on both;
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
import json
import time
import urllib.parse
from pathlib import Path

import asyncpg
import httpx

from bench.loadgen import Result, run

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


def _row(r: Result) -> Row:
    return {
        "rps": round(r.rps, 1),
        "p50_ms": round(r.percentile(50), 2),
        "p95_ms": round(r.percentile(95), 2),
        "errors": r.errors,
        "ratio": None,
    }


def scenario(
    host: str, port: int, dsn: str, pid: int, size: int, duration: float, connections: int
) -> dict[str, Row]:
    prefix = f"bench{int(time.time()) % 100000}-"
    seconds = asyncio.run(load(dsn, prefix, size))
    print(f"catalogue: {size:,} datasets loaded with SQL in {seconds:.1f}s", flush=True)
    facets = urllib.parse.quote(json.dumps(["groups", "res_format"]))
    words = WORDS[:60]

    def search(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """One word, a page of 10 deep in the results: 6,000 distinct queries (cold)."""
        q, start = words[n % len(words)], (n // len(words)) % 100 * 10
        path = f"/api/3/action/package_search?q={q}&facet.field={facets}&rows=10&start={start}"
        return "GET", path, {}, b""

    def two_words(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """Two words: 3,600 distinct queries (cold)."""
        pair = f"{words[n % len(words)]} {words[(n // len(words)) % len(words)]}"
        q = urllib.parse.quote(pair)
        return "GET", f"/api/3/action/package_search?q={q}&facet.field={facets}&rows=10", {}, b""

    def filtered(n: int) -> tuple[str, str, dict[str, str], bytes]:
        """One word, filters on two facets: 5,460 distinct queries (cold)."""
        q = words[n % len(words)]
        k = n // len(words)
        fq = urllib.parse.quote(f"groups:{THEMES[k % 13].lower()} res_format:{FORMATS[k % 7]}")
        path = f"/api/3/action/package_search?q={q}&fq={fq}&facet.field={facets}&rows=10"
        return "GET", path, {}, b""

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
        probe = client.get(f"/api/3/action/package_search?q={words[0]}&facet.field={facets}").json()
        probe2 = client.get(f"/api/3/action/package_search?q={words[0]}%20{words[3]}").json()
        print(
            f"catalogue: q={words[0]} matches {probe['result']['count']:,} datasets, "
            f"q={words[0]} {words[3]} {probe2['result']['count']:,}",
            flush=True,
        )
        results: dict[str, Row] = {
            f"package_search 1 word + 2 facets, {size:,}, cold": _row(
                run(host, port, search, connections=connections, duration=duration)
            ),
            f"package_search 2 words + 2 facets, {size:,}, cold": _row(
                run(host, port, two_words, connections=connections, duration=duration)
            ),
            f"package_search 1 word + 2 filters + 2 facets, {size:,}, cold": _row(
                run(host, port, filtered, connections=connections, duration=duration)
            ),
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
