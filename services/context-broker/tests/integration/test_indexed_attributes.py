"""Declared attributes (BROKER_INDEXED_ATTRIBUTES, entities/indexed.py) on a real PostgreSQL.

The index only says which entities cannot match ``q`` (ETSI GS CIM 009 V1.8.1, 4.9; Query
Entities 5.7.2): answers must be exactly those of a broker without it. Checked three ways:
the key's claim on every shape of attribute against the compiled jsonpath itself; the same
queries and pages through two brokers on one database, one declaring the attributes and one
not; and the plan of the keyed statement, which must walk the declared attribute's index.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import ValidationError

from conftest import serve
from context_broker.app import create_app
from context_broker.entities import indexed, repository
from context_broker.entities.indexed import (
    Keyed,
    ensure_indexes,
    index_name,
    keyed_term,
    parse_declared,
    sql_literal,
)
from context_broker.ngsild.query import And, parse_q, q_to_jsonpath
from context_broker.settings import BrokerSettings

CORE = "https://uri.etsi.org/ngsi-ld/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
E = "https://example.org/"
ODD = "https://example.org/it's"  # an IRI with a quote: it goes into DDL as a literal
STATUS = CORE + "status"  # "status" is a term of the core @context
DECLARED = f"status,count,flag,{ODD}"
KIND = f"Spot{uuid.uuid4().hex[:8]}"
LD = {"Content-Type": "application/ld+json"}
#: A value longer than a btree entry may be, that does not compress: it has no key.
LONG = base64.b64encode(b"".join(hashlib.sha256(bytes([i])).digest() for i in range(80)))[
    :3000
].decode()


def expand(name: str) -> str:
    return E + name


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


# --- the setting --------------------------------------------------------------------------
def test_declared_names_expand_with_the_core_context() -> None:
    assert parse_declared(" status , https://example.org/a ,ngsi-ld:foo,status") == (
        STATUS,
        "https://example.org/a",
        CORE + "foo",
    )
    assert parse_declared("") == ()
    assert parse_declared(["width"]) == (DEFAULT + "width",)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("status,,width", "empty item"),
        ("status,", "empty item"),
        ("bad name", "'bad name' is neither"),
        ("type", "member of every entity"),
        ("@id", "member of every entity"),
        (",".join(f"a{i}" for i in range(17)), "at most 16"),
    ],
)
def test_a_bad_declaration_stops_the_start(
    value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKER_INDEXED_ATTRIBUTES", value)
    with pytest.raises(ValidationError) as err:
        BrokerSettings()
    assert "indexed_attributes" in str(err.value)
    assert says in str(err.value)


def test_the_environment_is_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROKER_INDEXED_ATTRIBUTES", f"status,{ODD}")
    assert BrokerSettings().indexed_attributes == (STATUS, ODD)


async def test_sql_literal_reads_back_as_written(pg: asyncpg.Connection) -> None:
    for text in [ODD, "a''b", "back\\slash'", "é ü 漢字", "$1 $$ -- ;", "\"'\\"]:
        assert await pg.fetchval(f"SELECT {sql_literal(text)}") == text
        assert sql_literal(text) == await pg.fetchval("SELECT quote_literal($1::text)", text)
    with pytest.raises(ValueError, match="NUL"):
        sql_literal("a\x00b")


# --- which queries take the index -----------------------------------------------------------
def test_keyed_term_takes_one_equality_on_a_declared_attribute() -> None:
    declared = {E + "s": Keyed.of(E + "s")}

    def term(q: str) -> Any:
        return keyed_term(parse_q(q), expand, declared)

    t = term('s=="free"')
    assert t is not None and t.values == ('"free"',) and t.rest is None
    t = term("a>1;(s==free;b)")
    assert t is not None and t.values == ('"free"',) and isinstance(t.rest, And)
    assert t.rest.terms == parse_q("a>1;b").terms  # type: ignore[attr-defined]
    t = term("s==1,1.0,-0,0,true,x")
    assert t is not None and t.values == ("1", "-0", "true", '"x"')
    for q in [
        's!="free"',
        's=="a".."b"',
        "s==2026-01-01T00:00:00Z",
        "s==null",
        's.sub=="x"',
        's[a]=="x"',
        's=="a"|b',
        'other=="a"',
        "s==" + ",".join(str(i) for i in range(9)),
        "s>1",
    ]:
        assert term(q) is None, q


# --- the key's claim, on every shape of attribute ------------------------------------------
S = E + "s"
SHAPES: list[Any] = [
    prop("free"),
    prop("Free"),
    prop("free", datasetId="urn:ds:1", observedAt="2026-01-01T00:00:00Z"),
    [prop("free", datasetId="urn:ds:a"), prop("x", datasetId="urn:ds:b")],
    [prop("x")],
    prop(["free", "x"]),
    prop([]),
    prop({"@value": "free", "@type": "Text"}),
    prop({"a": "free"}),
    prop("free", **{E + "sub": prop("x")}),
    {"type": "Relationship", "object": "urn:free"},
    {"type": "Relationship", "object": "free"},
    {"type": "ListProperty", "valueList": ["free"]},
    {"type": "ListRelationship", "objectList": [{"object": "urn:free"}]},
    {"type": "JsonProperty", "json": "free"},
    {"type": "LanguageProperty", "languageMap": {"en": "free"}},
    {"type": "VocabProperty", "vocab": "free"},
    {"type": "Property", "value": "x", "valueList": ["free"]},
    {"type": "Property", "value": "x", "object": "free"},
    {"value": "free"},
    "free",
    None,
    [],
    prop(1),
    prop(1.0),
    prop(1.5),
    prop(0),
    prop(True),
    prop(False),
    prop("1"),
    prop("true"),
    prop(None),
    prop("é"),
    prop('fr"ee'),
    prop("free\\"),
    prop("x" * 600),
    prop("y" * 3000),
]
TERMS = [
    's=="free"',
    "s==free",
    's=="Free"',
    's=="free","x"',
    "s==urn:free",
    "s==1",
    "s==1.0",
    "s==1.5,0",
    "s==-0",
    "s==true",
    "s==false",
    's=="1"',
    's=="true"',
    's=="é"',
    's=="fr\\"ee"',
    's=="free\\\\"',
    's=="' + "x" * 600 + '"',
    's=="' + "y" * 3000 + '"',
]


async def test_a_key_equal_to_the_value_matches_and_a_match_has_that_key_or_the_sentinel(
    pg: asyncpg.Connection,
) -> None:
    """For ``T`` = ``s==v``: key in v => T (so only the rest of q is tested), and T => key in
    v or key = [] (so no match is missed). Absent attribute: no key."""
    k = Keyed.of(S)
    docs = [json.dumps({S: shape, E + "other": prop(1)}) for shape in SHAPES]
    docs.append(json.dumps({E + "other": prop("free")}))
    sql = (
        f"SELECT i, attrs @? $2::jsonpath AS t, {k.key} = ANY($3::jsonb[]) AS hit, "  # noqa: S608
        f"{k.key} = {indexed.SENTINEL} AS sentinel, {k.key} IS NULL AS keyless, "
        f"{k.present} AS present FROM (SELECT attrs, i, $4::text AS id "
        "FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(attrs, i)) e"
    )
    matched = 0
    for q in TERMS:
        expr = parse_q(q)
        term = keyed_term(expr, expand, {S: k})
        assert term is not None and term.rest is None, q
        path = q_to_jsonpath(expr, expand)
        short = await pg.fetch(sql, docs, path, list(term.values), "urn:x")
        long = await pg.fetch(sql, docs, path, list(term.values), "urn:" + "x" * 1100)
        assert not any(r["hit"] for r in long)  # no key for an id that long
        for r in [*short, *long]:
            shape = docs[r["i"] - 1]
            assert not r["hit"] or r["t"], (q, shape)
            assert not r["t"] or r["hit"] or r["sentinel"], (q, shape)
            assert not (r["hit"] and r["sentinel"]), (q, shape)
            assert r["keyless"] == (not r["present"]), (q, shape)
            matched += r["t"]
    assert matched > 30  # the shapes do match (a check that could not fail would prove nothing)


# --- start-up -----------------------------------------------------------------------------
async def _index(pg: asyncpg.Connection, iri: str) -> asyncpg.Record | None:
    return await pg.fetchrow(
        "SELECT i.indisvalid AS valid, obj_description(i.indexrelid, 'pg_class') AS iri, "
        "pg_get_indexdef(i.indexrelid) AS def FROM pg_index i "
        "WHERE i.indexrelid = to_regclass($1)",
        index_name(iri),
    )


async def test_replicas_starting_together_build_each_index_once(
    settings_for: Callable[..., Any], pg: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    url = settings_for("context-broker").require_database_url()
    iri = f"https://example.org/{uuid.uuid4().hex}'x"
    await asyncio.gather(*(ensure_indexes(url, [iri], poll_s=0.05) for _ in range(3)))
    found = await _index(pg, iri)
    assert found is not None and found["valid"] and found["iri"] == iri
    assert sql_literal(iri).replace("'", "") in found["def"].replace("'", "")
    # Declared no more: left in place, and named for the operator.
    with caplog.at_level("WARNING", logger=indexed.__name__):
        await ensure_indexes(url, [])
    assert any(index_name(iri) in r.getMessage() and iri in r.getMessage() for r in caplog.records)
    assert await _index(pg, iri) is not None
    await pg.execute(f'DROP INDEX "{index_name(iri)}"')


async def test_an_index_left_invalid_is_built_again(
    settings_for: Callable[..., Any], pg: asyncpg.Connection
) -> None:
    url = settings_for("context-broker").require_database_url()
    iri = f"https://example.org/{uuid.uuid4().hex}"
    await pg.execute(
        "INSERT INTO entity (tenant, id, types, attrs) VALUES ('x-invalid', 'urn:a', '{T}', "
        "'{}'), ('x-invalid', 'urn:b', '{T}', '{}')"
    )
    # A failed CREATE INDEX CONCURRENTLY leaves an invalid index with its name behind.
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{index_name(iri)}" ON entity (tenant)')
    assert (await _index(pg, iri))["valid"] is False  # type: ignore[index]
    await ensure_indexes(url, [iri])
    found = await _index(pg, iri)
    assert found is not None and found["valid"] and "CASE" in found["def"]
    await pg.execute(f'DROP INDEX "{index_name(iri)}"')
    await pg.execute("DELETE FROM entity WHERE tenant = 'x-invalid'")


# --- the same answers with and without the index --------------------------------------------
@pytest.fixture(scope="module")
async def keyed_client(settings_for: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for("context-broker", indexed_attributes=DECLARED, notifier=False)
    async with serve(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
async def plain_client(settings_for: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for("context-broker", notifier=False)
    async with serve(create_app(settings)) as c:
        yield c


TENANT = {"NGSILD-Tenant": f"keyed{uuid.uuid4().hex[:8]}"}
STATUSES = ["free", "occupied", "closed", "unknown"]


def _entities() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(n: int, **attrs: Any) -> None:
        out.append({"id": f"urn:ngsi-ld:{KIND}:{n:03d}", "type": KIND, **attrs})

    for n in range(80):
        attrs: dict[str, Any] = {
            "status": prop(STATUSES[n % 4], observedAt="2026-11-26T10:00:00Z"),
            "width": prop(2.0 + n % 3, unitCode="MTR"),
        }
        if n % 5 == 0:
            attrs["count"] = prop(n % 3)
        if n % 7 == 0:
            attrs["flag"] = prop(n % 2 == 0)
        if n % 9 == 0:
            attrs["scope"] = "/city/north" if n % 2 else "/city/south"
        add(n, **attrs)
    # Shapes the index cannot key: they must be found all the same.
    special: list[Any] = [
        [prop("free", datasetId="urn:ds:a"), prop("closed", datasetId="urn:ds:b")],
        prop(["occupied", "free"]),
        {"type": "ListProperty", "valueList": ["free", "closed"]},
        {"type": "LanguageProperty", "languageMap": {"en": "free", "nl": "vrij"}},
        {"type": "JsonProperty", "json": "free"},
        {"type": "Relationship", "object": "urn:free"},
        prop({"@value": "free", "@type": "Text"}),
        prop(LONG),
        prop("free", **{"since": prop("2026-11-26T10:00:00Z")}),
    ]
    for i, shape in enumerate(special):
        add(100 + 3 * i, status=shape, width=prop(2.5), count=prop(1.0))
    add(200, width=prop(3.0))  # no status
    # Entities of the type and another: not in the type's own index ranges.
    for n, status in [(201, "free"), (202, "closed")]:
        out.append(
            {
                "id": f"urn:ngsi-ld:{KIND}:{n}",
                "type": [KIND, f"{KIND}Other"],
                "status": prop(status),
            }
        )
    # The longest id there may be, with a keyable value: its index entry must still fit.
    long_id = f"urn:ngsi-ld:{KIND}:300:" + LONG[: 2048 - len(f"urn:ngsi-ld:{KIND}:300:")]
    out.append({"id": long_id, "type": KIND, "status": prop("free" + LONG[:500])})
    out.append({"id": long_id[:-1], "type": KIND, "status": prop("free")})
    return out


@pytest.fixture(scope="module")
async def loaded(keyed_client: httpx.AsyncClient) -> None:
    resp = await keyed_client.post(
        "/ngsi-ld/v1/entityOperations/create", json=_entities(), headers=TENANT
    )
    assert resp.status_code == 201, resp.text
    odd = {
        "id": f"urn:ngsi-ld:{KIND}:odd",
        "type": KIND,
        "odd": prop("v"),
        "@context": [
            {"odd": ODD},
            "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        ],
    }
    resp = await keyed_client.post("/ngsi-ld/v1/entities", json=odd, headers={**TENANT, **LD})
    assert resp.status_code == 201, resp.text


QUERIES = [
    'status=="free"',
    "status==free",
    'status=="free","closed"',
    'status=="free","free"',
    'status=="free";width>2.5',
    'width>2.5;status=="occupied"',
    'status=="free";(count==1|flag==true)',
    f'status=="free{LONG[:500]}"',
    'status=="nothing"',
    f'status=="{LONG}"',
    "status==urn:free",
    "count==1",
    "count==1.0",
    "count==0,2",
    "flag==true",
    "flag==false;status==occupied",
    'status=="free"|flag==true',  # not keyed: a disjunction
    'status!="free"',  # not keyed
]
PAGES = [{"limit": "20"}, {"limit": "3", "offset": "2"}, {"limit": "7", "offset": "11"}]


async def _both(
    keyed: httpx.AsyncClient,
    plain: httpx.AsyncClient,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> tuple[list[str], str | None]:
    """The answer of both brokers, which must be the same: the ids and the count."""
    answers = []
    for client in (keyed, plain):
        resp = await client.get(
            "/ngsi-ld/v1/entities", params=params, headers={**TENANT, **(headers or {})}
        )
        assert resp.status_code == 200, resp.text
        answers.append((resp.json(), resp.headers.get("NGSILD-Results-Count")))
    assert answers[0] == answers[1], params
    return [e["id"] for e in answers[0][0]], answers[0][1]


@pytest.mark.usefixtures("loaded")
async def test_queries_and_pages_are_the_same_with_the_index(
    keyed_client: httpx.AsyncClient, plain_client: httpx.AsyncClient
) -> None:
    seen = 0
    for q in QUERIES:
        for page in PAGES:
            params = {"type": KIND, "q": q, "count": "true", **page}
            ids, total = await _both(keyed_client, plain_client, params)
            seen += len(ids)
        ids, total = await _both(
            keyed_client, plain_client, {"type": KIND, "q": q, "limit": "0", "count": "true"}
        )
    assert seen > 100
    ids, total = await _both(
        keyed_client,
        plain_client,
        {"type": KIND, "q": 'status=="free"', "limit": "100", "count": "true"},
    )
    # Every unkeyable shape that holds "free" is found, in id order, counted.
    specials = [f"urn:ngsi-ld:{KIND}:{100 + 3 * i:03d}" for i in (0, 1, 2, 3, 4, 6, 8)]
    specials.append(f"urn:ngsi-ld:{KIND}:300:" + LONG[: 2047 - len(f"urn:ngsi-ld:{KIND}:300:")])
    specials.append(f"urn:ngsi-ld:{KIND}:201")
    assert set(specials) <= set(ids) and ids == sorted(ids)
    assert total == str(20 + len(specials))


@pytest.mark.usefixtures("loaded")
async def test_other_filters_still_apply(
    keyed_client: httpx.AsyncClient, plain_client: httpx.AsyncClient
) -> None:
    base = {"type": KIND, "q": 'status=="free"', "count": "true"}
    some = ",".join(f"urn:ngsi-ld:{KIND}:{n:03d}" for n in (0, 4, 5, 100, 103, 200))
    for extra in [
        {"id": some},
        {"idPattern": f"^urn:ngsi-ld:{KIND}:0[0-3]"},
        {"scopeQ": "/city/#"},
        {"attrs": "count"},
        {"idPattern": f"^urn:ngsi-ld:{KIND}:1", "limit": "2", "offset": "1"},
    ]:
        ids, _ = await _both(keyed_client, plain_client, {**base, **extra})
        assert ids, extra
    # A reader's visible types still limit the answer (ngsild/visibility.py).
    for names, some in [("Other", False), (f"Other,{KIND}", True)]:
        h = {"X-Mims-Entity-Types": names}
        ids, _ = await _both(keyed_client, plain_client, base, h)
        assert bool(ids) is some, names


@pytest.mark.usefixtures("loaded")
async def test_a_query_body_and_an_iri_with_a_quote(
    keyed_client: httpx.AsyncClient, plain_client: httpx.AsyncClient
) -> None:
    body = {
        "type": "Query",
        "entities": [{"type": KIND}],
        "q": 'odd=="v"',
        "@context": [
            {"odd": ODD},
            "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld",
        ],
    }
    answers = []
    for client in (keyed_client, plain_client):
        resp = await client.post(
            "/ngsi-ld/v1/entityOperations/query", json=body, headers={**TENANT, **LD}
        )
        assert resp.status_code == 200, resp.text
        answers.append(resp.json())
    assert answers[0] == answers[1] and [e["id"] for e in answers[0]] == [f"urn:ngsi-ld:{KIND}:odd"]


@pytest.mark.usefixtures("loaded")
async def test_the_page_is_found_along_the_index(
    keyed_client: httpx.AsyncClient,
    plain_client: httpx.AsyncClient,
    pg: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The declared broker answers with the keyed statement, whose plan walks the index of
    ``status`` (even with entities of several types in the tenant); the other does not."""
    # Enough entities of the type for the planner to prefer an index to reading them all.
    await pg.copy_records_to_table(
        "entity",
        records=[
            (
                TENANT["NGSILD-Tenant"],
                f"urn:ngsi-ld:{KIND}:bulk{n:05d}",
                [DEFAULT + KIND],
                json.dumps({STATUS: prop(STATUSES[n % 4])}),
            )
            for n in range(5000)
        ],
        columns=["tenant", "id", "types", "attrs"],
    )
    await pg.execute("ANALYZE entity")
    plans: list[str] = []
    real = repository._keyed_page

    async def explained(conn: asyncpg.Connection, f: Any, offset: int, limit: int) -> Any:
        sql, args = repository.keyed_page_sql(f, offset, limit)
        plan = await conn.fetch("EXPLAIN " + sql, *args)
        plans.append("\n".join(r[0] for r in plan))
        return await real(conn, f, offset, limit)

    monkeypatch.setattr(repository, "_keyed_page", explained)
    params = {"type": KIND, "q": 'status=="free"', "offset": "1000", "limit": "20"}
    ids, _ = await _both(keyed_client, plain_client, params)
    assert len(ids) == 20
    assert len(plans) == 1, "only the declared broker takes the keyed plan"
    # The value's range and the sentinel's along the index, merged; only the (two) entities
    # with another type besides are sorted.
    assert plans[0].count(f"Index Scan using {index_name(STATUS)}") == 2, plans[0]
    assert "Merge Append" in plans[0] and "Seq Scan" not in plans[0], plans[0]
    assert plans[0].count("->  Sort") == 1 and "entity_multi_type_idx" in plans[0], plans[0]
    await pg.execute(
        "DELETE FROM entity WHERE tenant = $1 AND id LIKE $2",
        TENANT["NGSILD-Tenant"],
        f"urn:ngsi-ld:{KIND}:bulk%",
    )
