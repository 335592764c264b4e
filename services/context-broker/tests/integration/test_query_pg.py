"""The q language compiled to SQL/JSON path, run by a real PostgreSQL over attribute documents.

Each case names exactly the documents that match; the expectations come from clause 4.9
of ETSI GS CIM 009 V1.8.1, not from the generator's output.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from context_broker.ngsild.query import jsonpath_string, parse_q, q_to_jsonpath, regex_problem
from mims_shared.db import database_url_for, libpq_url, maintenance_url
from mims_shared.errors import BadRequestData
from mims_shared.migrations import ensure_database

E = "https://example.org/"
VOCAB = "https://vocab.example.org/"


def expand(name: str) -> str:
    return E + name


def expand_vocab(term: str) -> str:
    return term if ":" in term else VOCAB + term


def prop(value: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **extra}


def rel(obj: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "Relationship", "object": obj, **extra}


def lang(lmap: dict[str, Any]) -> dict[str, Any]:
    return {"type": "LanguageProperty", "languageMap": lmap}


def dt(text: str) -> dict[str, str]:
    return {"@type": "DateTime", "@value": text}


# Documents as the broker stores them: attribute and sub-attribute names expanded.
DOCS: dict[str, dict[str, Any]] = {
    "d01": {
        E + "temperature": prop(20, observedAt="2026-01-01T10:00:00Z", unitCode="CEL"),
        E + "status": prop("free"),
    },
    "d02": {
        E + "temperature": prop(25.5, observedAt="2026-01-01T10:00:00.500Z"),
        E + "status": prop("occupied"),
    },
    "d03": {E + "temperature": prop("20"), E + "status": prop("Free")},
    "d04": {
        E + "temperature": [
            prop(10, datasetId="urn:ds:a"),
            prop(30, datasetId="urn:ds:b", observedAt="2026-01-02T00:00:00.250Z"),
        ]
    },
    "d05": {E + "isParked": rel("urn:ngsi-ld:OffStreetParking:Downtown1")},
    "d06": {
        E + "isParked": rel(["urn:ngsi-ld:OffStreetParking:A", "urn:ngsi-ld:OffStreetParking:B"]),
        E + "temperature": prop(15, **{E + "accuracy": prop(0.9)}),
    },
    "d07": {E + "name": lang({"en": "red", "fr": "rouge"})},
    "d08": {E + "name": lang({"en": ["black", "coal"], "de": "schwarz"})},
    "d09": {
        E + "address": prop({"city": "Berlin", "street": "Ulrich Strasse", "geo": {"zip": "10115"}})
    },
    "d10": {E + "address": prop({"city": "Paris"})},
    "d11": {E + "colors": {"type": "ListProperty", "valueList": ["blue", "red", "green"]}},
    "d12": {
        E + "sensor": prop(
            40, **{E + "rawdata": prop({"airquality": {"particulate": 40, "PM20": 85}})}
        )
    },
    "d13": {
        E + "tickets": {
            "type": "JsonProperty",
            "json": {"id": "85a6", "value": "Overstay 60 minutes"},
        }
    },
    "d14": {E + "gender": {"type": "VocabProperty", "vocab": "Male"}},
    "d15": {E + "gender": {"type": "VocabProperty", "vocab": VOCAB + "Female"}},
    "d16": {
        E + "seenAt": prop(dt("2026-03-01T12:00:00Z")),
        E + "opening": prop("08:30:00"),
        E + "birthday": prop("2000-05-17"),
    },
    "d17": {
        E + "seenAt": prop(dt("2026-03-01T14:00:00+02:00")),
        E + "opening": prop("18:00:00Z"),
        E + "birthday": prop("1999-12-31"),
    },
    "d18": {E + "members": {"type": "ListRelationship", "objectList": ["urn:p:1", "urn:p:2"]}},
    "d19": {
        E + "members": {"type": "ListRelationship", "objectList": [{"object": "urn:p:3"}]},
        E + "flag": prop(True),
        E + "count": prop(0),
    },
    "d20": {},
    "d21": {
        E + "temperature": prop(21, observedAt="2026-01-01T12:00:00+02:00"),
        E + "flag": prop(False),
        E + "note": prop('x" || true || "y'),
    },
}

CASES: list[tuple[str, set[str]]] = [
    # existence
    ("temperature", {"d01", "d02", "d03", "d04", "d06", "d21"}),
    ("isParked", {"d05", "d06"}),
    ("temperature.accuracy", {"d06"}),
    ("temperature.observedAt", {"d01", "d02", "d04", "d21"}),
    ("address[geo.zip]", {"d09"}),
    ("address[country]", set()),
    # numbers: types must agree ("20" is a string), any instance of a multi-attribute
    ("temperature==20", {"d01"}),
    ("temperature==20.0", {"d01"}),
    ("temperature>20", {"d02", "d04", "d21"}),
    ("temperature<=10", {"d04"}),
    ("temperature==10..20", {"d01", "d04", "d06"}),
    ("temperature==15,25.5", {"d02", "d06"}),
    ('temperature=="20"', {"d03"}),
    # != : the attribute must be there; other types are unequal; arrays must not include it
    ("temperature!=20", {"d02", "d03", "d04", "d06", "d21"}),
    ("temperature!=10..30", {"d03"}),
    ('colors!="red"', set()),
    ('colors!="yellow"', {"d11"}),
    ('isParked!="urn:ngsi-ld:OffStreetParking:A"', {"d05"}),
    # strings, case-sensitive, code point order
    ('status=="free"', {"d01"}),
    ('status>"F"', {"d01", "d02", "d03"}),
    ('status>"f"', {"d01", "d02"}),
    # relationships: == and != only, quoted or not, arrays and objectLists included
    ('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"', {"d05"}),
    ("isParked==urn:ngsi-ld:OffStreetParking:B", {"d06"}),
    ('isParked>"urn"', set()),
    ("members==urn:p:2,urn:p:3", {"d18", "d19"}),
    # language maps: any language, or the one in brackets
    ('name=="red"', {"d07"}),
    ('name=="coal"', {"d08"}),
    ('name[en]=="rouge"', set()),
    ('name[fr]=="rouge"', {"d07"}),
    ('name[*]=="schwarz"', {"d08"}),
    ('name!="red"', {"d08"}),
    # lists, compound values, sub-attributes, JSON
    ('colors=="red"', {"d11"}),
    ('address[city]=="Berlin"', {"d09"}),
    ('address[geo.zip]=="10115"', {"d09"}),
    ('address[city]!="Berlin"', {"d10"}),
    ("sensor.rawdata[airquality.particulate]==40", {"d12"}),
    ("temperature.accuracy>0.5", {"d06"}),
    ('tickets[value]=="Overstay 60 minutes"', {"d13"}),
    # vocab: as written or expanded
    ("gender==Male", {"d14"}),
    ("gender==Female", {"d15"}),
    ("gender!=Male", {"d15"}),
    # booleans, zero
    ("flag==true", {"d19"}),
    ("flag!=true", {"d21"}),
    ("count==0", {"d19"}),
    # instance members
    ('temperature.unitCode=="CEL"', {"d01"}),
    ("temperature.datasetId==urn:ds:b", {"d04"}),
    # DateTimes in time order, whatever the offset or fraction
    ("temperature.observedAt>=2026-01-01T10:00:00Z", {"d01", "d02", "d04", "d21"}),
    ("temperature.observedAt>2026-01-01T10:00:00Z", {"d02", "d04"}),  # d21: 10:00Z too
    ("temperature.observedAt==2026-01-01T10:00:00Z", {"d01", "d21"}),
    ("temperature.observedAt==2026-01-01T11:00:00+01:00", {"d01", "d21"}),
    ("temperature.observedAt<2026-01-01T10:00:00.5Z", {"d01", "d21"}),
    ("seenAt==2026-03-01T12:00:00Z", {"d16", "d17"}),
    ("seenAt>2026-03-01T11:59:59Z", {"d16", "d17"}),
    ("seenAt==2026-03-01T00:00:00Z..2026-03-01T12:00:00Z", {"d16", "d17"}),
    ('seenAt=="2026-03-01T12:00:00Z"', {"d16"}),
    # Dates, Times
    ("birthday<2000-01-01", {"d17"}),
    ("birthday==1999-01-01..2000-12-31", {"d16", "d17"}),
    ("opening>08:00:00", {"d16", "d17"}),
    ("opening<12:00:00Z", {"d16"}),
    ("birthday>08:00:00", set()),
    # regular expressions (PostgreSQL ARE, unanchored)
    ("status~=^fr", {"d01"}),
    ("status~=(?i)^fr", {"d01", "d03"}),
    ("status!~=(?i)^fr", {"d02"}),
    ('status~="e(e|d)$"', {"d01", "d02", "d03"}),
    ("name~=ouge", {"d07"}),
    ("isParked~=urn", set()),
    ("temperature~=2", {"d03"}),
    ("colors~=gre", {"d11"}),
    # logic: ; binds tighter than |
    ('temperature>20;status=="occupied"|isParked', {"d02", "d05", "d06"}),
    ('temperature>20;(status=="occupied"|isParked)', {"d02"}),
    # each term may hold on a different instance of a multi-attribute (d04: 10 and 30)
    ("((temperature>=20;temperature<=25)|count<=10)", {"d01", "d04", "d19", "d21"}),
    # injection attempts: quoted text stays a literal
    ('temperature=="x\\" || true || \\""', set()),
    ('note=="x\\" || true || \\"y"', {"d21"}),
    ('status=="\\")) || exists($.**"', set()),
    ('note~="\\" || true || \\""', {"d21"}),
    ('status~=\\"', set()),
]


@pytest.fixture(scope="module")
async def conn(pg_server: str) -> AsyncIterator[asyncpg.Connection]:
    name = f"mims_test_q_{uuid.uuid4().hex[:8]}"
    url = database_url_for(pg_server, name)
    await ensure_database(url)
    connection = await asyncpg.connect(libpq_url(url))
    try:
        await connection.execute("CREATE TABLE doc (id text PRIMARY KEY, attrs jsonb NOT NULL)")
        await connection.execute("CREATE INDEX doc_attrs ON doc USING gin (attrs jsonb_path_ops)")
        await connection.executemany(
            "INSERT INTO doc VALUES ($1, $2::jsonb)",
            [(k, json.dumps(v)) for k, v in DOCS.items()],
        )
        yield connection
    finally:
        await connection.close()
        admin = await asyncpg.connect(maintenance_url(url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def matching(conn: asyncpg.Connection, q: str) -> set[str]:
    path = q_to_jsonpath(parse_q(q), expand, expand_vocab)
    rows = await conn.fetch("SELECT id FROM doc WHERE attrs @? $1::jsonpath", path)
    return {r["id"] for r in rows}


@pytest.mark.parametrize(("q", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_q_matches_exactly(conn: asyncpg.Connection, q: str, expected: set[str]) -> None:
    assert await matching(conn, q) == expected


async def test_injection_never_leaves_a_literal(conn: asyncpg.Connection) -> None:
    # Any text, quoted or in a regular expression, is one literal: the path parses, and
    # a document holding exactly that text is the only one that matches.
    nasty = ['")', "\\", '" || @ == @ || "', "\u2028\U0001f600\x7f\x01", '$."x"', "'; DROP"]
    for text in nasty:
        quoted = json.dumps(text)
        assert await matching(conn, f"status=={quoted}") == set()
        assert await matching(conn, f"status!={quoted}") == {"d01", "d02", "d03"}
        # "***=" makes the rest of an ARE a literal string
        assert await matching(conn, f"status~={json.dumps('***=' + text)}") == set()
        got = await conn.fetchval(
            "SELECT $1::jsonb @? $2::jsonpath",
            json.dumps({E + "status": prop(text)}),
            q_to_jsonpath(parse_q(f"status=={quoted}"), expand),
        )
        assert got is True


def index_rows(plan: Any) -> list[int]:
    """The rows each Bitmap Index Scan of an EXPLAIN (ANALYZE, FORMAT JSON) plan returned."""
    found: list[int] = []

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] == "Bitmap Index Scan":
            found.append(node["Actual Rows"])
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan)[0]["Plan"])
    return found


@pytest.mark.parametrize(
    ("q", "rows"),
    [
        # equality: the index hands back just the candidates
        ('status=="s7"', 1),
        ("temperature==7,8", 2),
        ("temperature==7.5", 1),  # any instance of a multi-attribute
        ('status=="s7"|temperature==9', 2),
        ('status=="s7";temperature>3', 1),  # the indexable side of an AND
        ('name=="n10"', 40),  # language maps: every entity whose name is a LanguageProperty
        # no constant to look up: the whole index, as a control
        ("temperature>5", 400),
        ("status", 400),
    ],
)
async def test_equality_is_served_by_a_gin_index(
    conn: asyncpg.Connection, q: str, rows: int
) -> None:
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE bulk (id text, attrs jsonb) ON COMMIT DROP")
        await conn.execute("CREATE INDEX ON bulk USING gin (attrs jsonb_path_ops)")
        docs = []
        for i in range(400):
            doc = {
                E + "status": prop(f"s{i}"),
                E + "temperature": [prop(i), prop(i + 0.5, datasetId="urn:ds:half")],
            }
            if i % 10 == 0:
                doc[E + "name"] = lang({"en": f"n{i}"})
            docs.append((str(i), json.dumps(doc)))
        await conn.executemany("INSERT INTO bulk VALUES ($1, $2::jsonb)", docs)
        await conn.execute("ANALYZE bulk")
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT id FROM bulk WHERE attrs @? $1::jsonpath",
            q_to_jsonpath(parse_q(q), expand),
        )
        assert index_rows(plan) == [rows]


# Regular expressions: what regex_problem refuses, PostgreSQL refuses too, and the other way
# round for these cases.
REGEXES = [
    "^fr",
    "(?i)^fr",
    "a*?",
    "(a)\\1",
    "[]a]",
    "[^]a]",
    "[a-]",
    "[[:word:]]+",
    "\\y\\m\\M",
    "\\u00e9\\x41",
    "***:a",
    "***=(((",
    "(?x) a # c",
    "a{255}",
    "a{2,3}?",
    "\\.\\/\\-",
    "[[.a.]-z]",
    "(?<=a)b",
    "(?:a|b)+",
    "x|",
    "()",
    "a{,2}",
    "a{",
    "[\\d_]",
    "\\B",
    "(",
    "a)",
    "[a",
    "*a",
    "a**",
    "a+*",
    "a*??",
    "^*",
    "$*",
    "(?=a)*",
    "\\m*",
    "|*",
    "(*a)",
    "\\",
    "\\q",
    "\\x",
    "a{2,1}",
    "a{256}",
    "a{2",
    "\\1(a)",
    "[z-a]",
    "[\\d-z]",
    "[[:foo:]]",
    "a(?i)b",
    "(?z)a",
    "(?Z)a",
    "(?<a)b",
    "a{1}{2}",
]


@pytest.mark.parametrize("pattern", REGEXES)
async def test_regex_check_agrees_with_postgresql(conn: asyncpg.Connection, pattern: str) -> None:
    path = f"$ ? (@ like_regex {jsonpath_string(pattern)})"
    try:
        await conn.fetchval("SELECT $1::jsonpath", path)
        accepted = True
    except asyncpg.InvalidRegularExpressionError:
        accepted = False
    assert (regex_problem(pattern) is None) is accepted
    if not accepted:
        with pytest.raises(BadRequestData, match="invalid regular expression"):
            parse_q(f"a~={json.dumps(pattern)}")
