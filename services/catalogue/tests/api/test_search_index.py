"""package_search answered from the in-memory index is what a straightforward SQL query
over the records answers: totals, facet counts and pages, after writes by this replica, by
another replica and by SQL behind both, and when the listed changes have been pruned."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from bench.catalogue import FORMATS, THEMES, WORDS, load
from catalogue.app import create_app
from catalogue.ckan import repository
from catalogue.ckan.service import CkanService
from catalogue.dcat.ckan import FACETS, parse_search
from conftest import serve
from mims_shared.db import libpq_url

from .helpers import post, uid

FACET_FIELDS = ["groups", "res_format", "tags", "organization", "license_id"]


@pytest.fixture(scope="module")
async def dsn(settings_for: Callable[..., Any]) -> str:
    url = libpq_url(settings_for("catalogue").database_url.get_secret_value())
    await load(url, uid("oracle") + "-", 600)
    return url


@pytest.fixture(scope="module")
async def replicas(
    settings_for: Callable[..., Any], dsn: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, CkanService]]:
    """Two catalogue processes on one database; the second without a result cache."""
    first = create_app(settings_for("catalogue"))
    second = create_app(settings_for("catalogue", search_cache_size=0))
    async with serve(first) as a, serve(second) as b:
        service: CkanService = second.state.ckan
        assert await first.state.ckan.index.ready() and await service.index.ready()
        yield a, b, service


def _where(
    q: str | None, fq: dict[str, list[str]], neg: dict[str, list[str]]
) -> tuple[str, list[Any]]:
    where, args = ["kind = 'dataset'"], []
    if q is not None:
        args.append(q)
        where.append(f"tsv @@ websearch_to_tsquery('simple', ${len(args)})")
    for name, values in fq.items():
        args.append(values)
        where.append(f"{FACETS[name]} @> ${len(args)}::text[]")
    for name, values in neg.items():
        args.append(values)
        where.append(f"NOT {FACETS[name]} && ${len(args)}::text[]")
    return " AND ".join(where), args


async def oracle(
    conn: asyncpg.Connection,
    q: str | None,
    fq: dict[str, list[str]],
    neg: dict[str, list[str]],
    order: str,
    start: int,
    rows: int,
) -> dict[str, Any]:
    """The same search, the obvious way: one statement per figure."""
    where, args = _where(q, fq, neg)
    total = await conn.fetchval(f"SELECT count(*) FROM record WHERE {where}", *args)  # noqa: S608
    facets = {}
    for name in FACET_FIELDS:
        rows_ = await conn.fetch(
            f"SELECT v, count(DISTINCT id) AS c FROM record, unnest({FACETS[name]}) v "  # noqa: S608
            f"WHERE {where} "
            'GROUP BY v ORDER BY c DESC, v COLLATE "C" LIMIT 5',
            *args,
        )
        facets[name] = [(r["v"], r["c"]) for r in rows_]
    ids = await conn.fetch(
        f"SELECT id FROM record WHERE {where} ORDER BY {order} "  # noqa: S608
        f"OFFSET {start} LIMIT {rows}",
        *args,
    )
    matching = {
        r["id"]
        for r in await conn.fetch(f"SELECT id FROM record WHERE {where}", *args)  # noqa: S608
    }
    return {"total": total, "facets": facets, "page": [r["id"] for r in ids], "all": matching}


SORTS = {
    "metadata_modified desc": 'modified DESC, id COLLATE "C"',
    "name asc": 'id COLLATE "C"',
    "title_string asc, name desc": 'title_sort COLLATE "C", id COLLATE "C" DESC',
    "metadata_created asc": 'issued, id COLLATE "C"',
}


def _fq(fq: dict[str, list[str]], neg: dict[str, list[str]]) -> str:
    terms = [f'{k}:"{v}"' for k, vs in fq.items() for v in vs]
    terms += [f'-{k}:"{v}"' for k, vs in neg.items() for v in vs]
    return " ".join(terms)


def _queries(seed: int, n: int) -> list[tuple[Any, ...]]:
    rnd = random.Random(seed)  # noqa: S311 (a reproducible corpus of queries)
    out = []
    for _ in range(n):
        a, b = rnd.sample(WORDS[:40], 2)
        q = rnd.choice([None, a, f"{a} {b}", f"{a} or {b}", f"{a} -{b}"])
        fq: dict[str, list[str]] = {}
        neg: dict[str, list[str]] = {}
        if rnd.random() < 0.5:
            fq["groups"] = [rnd.choice(THEMES)]
        if rnd.random() < 0.3:
            fq["res_format"] = [rnd.choice(FORMATS)]
        if rnd.random() < 0.2:
            neg["res_format"] = [rnd.choice(FORMATS)]
        out.append((q, fq, neg, rnd.choice([*SORTS, "score desc, metadata_modified desc"])))
    return out


async def _compare(client: httpx.AsyncClient, dsn: str, queries: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for (q, fq, neg, sort), start in zip(queries, itertools.cycle([0, 3, 17]), strict=False):
            params = {
                "fq": _fq(fq, neg),
                "sort": sort,
                "rows": 7,
                "start": start,
                "facet.field": json.dumps(FACET_FIELDS),
                "facet.limit": 5,
            }
            if q is not None:
                params["q"] = q
            got = (await client.get("/api/3/action/package_search", params=params)).json()
            found = got["result"]
            order = SORTS.get(sort, 'modified DESC, id COLLATE "C"')
            want = await oracle(conn, q, fq, neg, order, start, 7)
            label = (q, fq, neg, sort, start)
            assert found["count"] == want["total"], label
            for name in FACET_FIELDS:
                assert list(found["facets"][name].items()) == want["facets"][name], (name, label)
            page = [p["id"] for p in found["results"]]
            if sort in SORTS:
                assert page == want["page"], label
            else:  # by relevance: a page of matching datasets, as many as the oracle's
                assert set(page) <= want["all"] and len(page) == len(want["page"]), label
    finally:
        await conn.close()


async def test_index_answers_as_sql_does(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient, CkanService], dsn: str
) -> None:
    _, client, service = replicas
    before = dict(service.answered)
    await _compare(client, dsn, _queries(1, 60))
    assert service.answered["index"] - before["index"] == 60
    assert service.answered["sql"] == before["sql"]


async def test_index_follows_writes_of_every_replica_and_of_sql(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient, CkanService], dsn: str
) -> None:
    writer, client, service = replicas
    word = WORDS[7]
    made = await post(
        writer,
        "datasets",
        {
            "identifier": uid("idx"),
            "title": {"en": f"{word} new"},
            "description": {"en": "Written through the other replica"},
            "theme": ["ECON"],
            "keyword": [word],
        },
    )
    conn = await asyncpg.connect(dsn)
    try:
        # changes behind both replicas: a retheme, a deletion, a new dataset
        some = await conn.fetch(
            "SELECT id FROM record WHERE kind = 'dataset' AND id LIKE 'oracle-%' "
            "ORDER BY id LIMIT 30"
        )
        ids = [r["id"] for r in some]
        await conn.execute(
            "UPDATE record SET themes = '{JUST}', modified = clock_timestamp() "
            "WHERE kind = 'dataset' AND id = ANY($1::text[])",
            ids[:10],
        )
        await conn.execute(
            "DELETE FROM record WHERE kind = 'dataset' AND id = ANY($1::text[])", ids[10:20]
        )
        await conn.execute(
            "UPDATE record SET record = jsonb_set(record, '{title}', $2::jsonb) "
            "WHERE kind = 'dataset' AND id = ANY($1::text[])",
            ids[20:30],
            json.dumps({"en": f"{word} retitled"}),
        )
    finally:
        await conn.close()
    found = (await client.get("/api/3/action/package_search", params={"q": word})).json()
    assert made["id"] in {p["id"] for p in found["result"]["results"]} or (
        found["result"]["count"] > 10
    )
    await _compare(client, dsn, _queries(2, 40))
    assert service.answered["sql"] == 0


async def test_pruned_changes_rebuild_the_index(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient, CkanService], dsn: str
) -> None:
    _, client, service = replicas
    conn = await asyncpg.connect(dsn)
    try:
        # as if the changes this replica has not read were gone: it must rebuild
        await conn.execute("UPDATE catalogue_version SET pruned = version + 1")
        await conn.execute(
            "UPDATE record SET tags = '{prunedtag}' WHERE kind = 'dataset' AND id IN "
            "(SELECT id FROM record WHERE kind = 'dataset' AND id LIKE 'oracle-%' "
            "ORDER BY id LIMIT 3)"
        )
        params = {"fq": "tags:prunedtag", "facet.field": '["tags"]'}
        found = (await client.get("/api/3/action/package_search", params=params)).json()
        assert found["result"]["count"] == 3  # from SQL while the index rebuilds
        assert await service.index.ready()
        found = (await client.get("/api/3/action/package_search", params=params)).json()
        assert found["result"]["count"] == 3 and found["result"]["facets"]["tags"] == {
            "prunedtag": 3
        }
        assert service.answered["index"] > 0
        await _compare(client, dsn, _queries(3, 20))
    finally:
        await conn.execute("UPDATE catalogue_version SET pruned = 0")
        await conn.close()


async def test_the_sql_search_leaves_the_connection_planning_as_before(dsn: str) -> None:
    """The SQL search plans itself for its parameters and leaves the pooled connection as
    it found it (else every later page statement on it would be planned afresh)."""
    conn = await asyncpg.connect(dsn)
    try:
        total, results, facets = await repository.search(
            conn,
            parse_search(WORDS[0], None),
            lang="simple",
            rows=3,
            start=0,
            order=[("score", True), ("modified", True)],
            facets=["groups"],
            facet_limit=5,
            facet_mincount=1,
        )
        want = await conn.fetchval(
            "SELECT count(*) FROM record WHERE kind = 'dataset' "
            "AND tsv @@ websearch_to_tsquery('simple', $1)",
            WORDS[0],
        )
        assert total == want > 0 and len(results) == 3 and facets["groups"]
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await conn.close()
