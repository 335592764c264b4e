"""Declared ("indexed") attributes: the page of Query Entities found along a btree index.

ETSI GS CIM 009 V1.8.1, 5.7.2 (Query Entities) with a ``q`` (4.9) and one entity type. For
the query patterns of their city (``ParkingSpot`` whose ``status=="free"``), an operator
declares attributes (``BROKER_INDEXED_ATTRIBUTES``), as they would create database indexes;
at start-up the broker makes sure of one btree index per declared attribute::

    entity (tenant, types, <key of the attribute>, id) WHERE attrs ? '<attribute IRI>'

The key (:func:`key_sql`) is the attribute's ``value`` (as jsonb) when the attribute is ONE
instance (an object) whose ``value`` is a string, number or boolean (of at most
``MAX_KEY_BYTES`` as JSON text) and which holds none of the other members a query compares
(``valueList``, ``json``, ``languageMap``, ``vocab``, ``object``, ``objectList``); for any
other shape (several instances, an array or object value, a relationship, a language map,
a typed or a long value; or an entity id longer than ``MAX_KEYED_ID_BYTES``) it is the
sentinel ``[]``, which no scalar equals.

A ``q`` that is a conjunction holding ``attr==v`` (or ``attr==v1,v2``) on a declared
attribute is then answered exactly without reading the type's other entities
(entities/repository.py, ``_keyed_page``): for such a query term ``T`` (compiled by
ngsild/query.py to ``exists($."attr" ? (exists(@.value ? (@ == v)) || ...))``, lax mode),

- an entity whose key equals ``v`` (jsonb equality: strings byte for byte, numbers as
  numerics, as jsonpath's ``==`` compares them) satisfies ``T``: its one instance's ``value``
  is ``v`` and it has no other target member, so ``q`` holds iff the REST of ``q`` holds;
- an entity without the attribute (not in the index) does not satisfy ``T``;
- any other entity has the key ``[]``, and the whole ``q`` is tested on it.

So the matches among the entities of that type alone are the union of "key = v and rest"
and "key = [] and q", each read in id order from the index (one ordered range each,
merged); the few entities with that type among others are tested with ``q`` and sorted
(migration 0011 keeps them apart). The page and the count are the same as the plain
plan's, at a cost that grows with the page's offset, not with the number of entities. The
jsonpath of ``q`` remains the definition of a match; the index only says which entities
cannot match.

Each index costs every write of an entity that has the attribute one btree entry (see
bench/README.md for the figure). Index names are ``entity_attr_`` and a hash of the index's
definition (which holds the IRI), so a changed definition builds a new index; an index of
an attribute no longer declared (or of an older definition) is left in place and named in
the log, for the operator to drop (``DROP INDEX CONCURRENTLY``) once no replica uses it.

DDL takes no bind parameters: the IRI goes into the index definition (and into the SQL of
the queries that must match it) as a string literal written by :func:`sql_literal`; index
names are hex digests, written by :func:`sql_identifier`. Request values are always bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from context_broker.ngsild.entity import CORE_MEMBERS
from context_broker.ngsild.ids import is_uri, is_valid_name
from context_broker.ngsild.jsonld import get_compiled
from context_broker.ngsild.query import (
    And,
    AttrPath,
    Boolean,
    Compare,
    Number,
    QExpr,
    String,
    Uri,
    Value,
    ValueList,
)
from mims_shared.db import libpq_url

log = logging.getLogger(__name__)

#: Most attributes that may be declared (each costs every write an index entry).
MAX_DECLARED = 16
#: Longest scalar value, as JSON text, that is a key, and longest id of an entity with a key:
#: a btree entry holds 2,704 bytes at most, and ids (4.6.2) may have 2,048. Other entities
#: have the sentinel key (8 bytes) and are tested with the whole ``q``.
MAX_KEY_BYTES = 512
MAX_KEYED_ID_BYTES = 1024
#: Most distinct values of ``attr==v1,v2,...`` answered along the index (one range each).
MAX_KEYED_VALUES = 8
#: The columns of an attribute's index.
_INDEX_COLUMNS = "(tenant, types, {key}, id)"
#: The key of an entity whose attribute is not one instance with a scalar value.
SENTINEL = "'[]'::jsonb"
#: Advisory lock taken while the indexes are made sure of (replicas start one at a time).
LOCK_KEY = 7_311_482_913
#: Members of an instance a query term compares besides ``value`` (ngsild/query.py).
_OTHER_TARGETS = ("valueList", "json", "languageMap", "vocab", "object", "objectList")
_INDEX_NAME = re.compile(r"^entity_attr_[0-9a-f]{16}$")


# --- the setting ------------------------------------------------------------------------
def parse_declared(value: Any) -> tuple[str, ...]:
    """The IRIs of ``BROKER_INDEXED_ATTRIBUTES``: a comma-separated text (or a sequence) of
    attribute names, expanded with the core @context, or absolute IRIs; ValueError naming
    the offending item otherwise."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")] if value.strip() else []
    elif isinstance(value, list | tuple):
        items = [v.strip() if isinstance(v, str) else v for v in value]
    else:
        raise ValueError("must be a comma-separated list of attribute names or IRIs")
    core = get_compiled(None, _no_remote)
    iris: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError("holds an empty item (two commas in a row, or one at an end)")
        if item in CORE_MEMBERS:
            raise ValueError(f"{item!r} is a member of every entity, not an attribute")
        if is_valid_name(item):
            iri = core.expand(item)
        elif is_uri(item):
            iri = item
        else:
            raise ValueError(f"{item[:200]!r} is neither an attribute name nor an absolute IRI")
        if iri.startswith("@") or not is_uri(iri):
            raise ValueError(f"{item[:200]!r} does not expand to an IRI with the core @context")
        if iri not in iris:
            iris.append(iri)
    if len(iris) > MAX_DECLARED:
        raise ValueError(f"declares {len(iris)} attributes; at most {MAX_DECLARED} may be")
    return tuple(iris)


def _no_remote(url: str) -> Any:
    raise ValueError(f"the core @context cannot name {url}")


# --- SQL text -----------------------------------------------------------------------------
def sql_literal(text: str) -> str:
    """``text`` as a PostgreSQL string literal (what ``quote_literal`` writes): quotes
    doubled, and with a backslash the ``E''`` form with backslashes doubled, so that it
    reads the same whatever ``standard_conforming_strings`` says. NUL is refused."""
    if not isinstance(text, str) or "\x00" in text:
        raise ValueError("a SQL literal cannot hold NUL")
    quoted = text.replace("'", "''")
    if "\\" in text:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def sql_identifier(name: str) -> str:
    """An index name of ours, double-quoted; anything else is refused."""
    if not _INDEX_NAME.match(name):
        raise ValueError(f"{name[:80]!r} is not the name of an attribute index")
    return '"' + name + '"'


def _definition(iri: str) -> str:
    """The index of ``iri`` as ``CREATE INDEX … ON entity`` continues: columns and predicate."""
    return f"{_INDEX_COLUMNS.format(key=key_sql(iri))} WHERE {present_sql(iri)}"


def index_name(iri: str) -> str:
    """The deterministic name of the index of ``iri``: a hash of its definition (names hold
    63 bytes), so that an index built by an older definition is never taken for it."""
    return f"entity_attr_{hashlib.sha256(_definition(iri).encode()).hexdigest()[:16]}"


def key_sql(iri: str) -> str:
    """The index key of the attribute ``iri`` of an entity row (see the module's docstring).
    NULL when the entity does not have the attribute (such rows are not in the index)."""
    a = f"(attrs -> {sql_literal(iri)})"
    v = f"({a} -> 'value')"
    others = ", ".join(f"'{m}'" for m in _OTHER_TARGETS)
    return (
        f"(CASE WHEN jsonb_typeof({v}) IN ('string', 'number', 'boolean') "
        f"AND NOT ({a} ?| ARRAY[{others}]) AND octet_length({v}::text) <= {MAX_KEY_BYTES} "
        f"AND octet_length(id) <= {MAX_KEYED_ID_BYTES} "
        f"THEN {v} WHEN {a} IS NOT NULL THEN {SENTINEL} END)"
    )


def present_sql(iri: str) -> str:
    """The entity has the attribute: the predicate of the attribute's (partial) index."""
    return f"attrs ? {sql_literal(iri)}"


@dataclass(frozen=True, slots=True)
class Keyed:
    """A declared attribute, as the queries write it: constant SQL fragments built from
    the configured IRI (never from a request)."""

    iri: str
    key: str
    present: str

    @classmethod
    def of(cls, iri: str) -> Keyed:
        return cls(iri, key_sql(iri), present_sql(iri))


@dataclass(frozen=True, slots=True)
class KeyedTerm:
    """An equality term of ``q`` on a declared attribute: the attribute, its values as JSON
    texts (distinct as jsonb), and the query without that term (None: nothing else)."""

    attr: Keyed
    values: tuple[str, ...]
    rest: QExpr | None


# --- the query ----------------------------------------------------------------------------
def keyed_term(
    expr: QExpr, expand: Callable[[str], str], declared: Mapping[str, Keyed]
) -> KeyedTerm | None:
    """The first term of the conjunction ``expr`` that is ``attr==value`` (or a list of
    values) on a declared attribute, with a string, URI, number or boolean on the right;
    None when there is none (the query is answered by the other plans)."""
    if not declared:
        return None
    terms = _conjuncts(expr)
    for i, term in enumerate(terms):
        if not (
            isinstance(term, Compare)
            and term.op == "=="
            and term.path == AttrPath((term.path.names[0],))
        ):
            continue
        attr = declared.get(expand(term.path.names[0]))
        values = _key_values(term.value)
        if attr is None or values is None:
            continue
        rest = terms[:i] + terms[i + 1 :]
        return KeyedTerm(
            attr, values, None if not rest else rest[0] if len(rest) == 1 else And(rest)
        )
    return None


def _conjuncts(expr: QExpr) -> tuple[QExpr, ...]:
    if isinstance(expr, And):
        return tuple(t for term in expr.terms for t in _conjuncts(term))
    return (expr,)


def _key_values(value: Any) -> tuple[str, ...] | None:
    """The values as jsonb texts, one per distinct jsonb value (``1`` and ``1.0`` are one);
    None when one is not a string, URI, number or boolean, or there are too many."""
    items: tuple[Value, ...] = value.values if isinstance(value, ValueList) else (value,)
    seen: dict[tuple[str, Any], str] = {}
    for v in items:
        if isinstance(v, String | Uri):
            seen.setdefault(("s", v.value), json.dumps(v.value))
        elif isinstance(v, Number):
            seen.setdefault(("n", Decimal(v.text)), v.text)
        elif isinstance(v, Boolean):
            seen.setdefault(("b", v.value), "true" if v.value else "false")
        else:
            return None
    if len(seen) > MAX_KEYED_VALUES:
        return None
    return tuple(seen.values())


# --- start-up -----------------------------------------------------------------------------
async def ensure_indexes(database_url: str, iris: Iterable[str], *, poll_s: float = 0.5) -> None:
    """Make sure each declared attribute has its valid index, building the missing ones with
    ``CREATE INDEX CONCURRENTLY`` (writes go on meanwhile), one replica at a time.

    The advisory lock is tried, not waited for: a session blocked in ``pg_advisory_lock``
    holds a snapshot, which the other replica's ``CREATE INDEX CONCURRENTLY`` would wait
    for. An index left invalid by a failed build is dropped and built again."""
    iris = list(iris)
    conn = await asyncpg.connect(
        libpq_url(database_url),
        timeout=10,
        server_settings={"application_name": "context-broker indexes", "statement_timeout": "0"},
    )
    try:
        while True:  # another replica is building: wait for it, without a snapshot
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                break
            await asyncio.sleep(poll_s)
        try:
            built = [iri for iri in iris if await _ensure_index(conn, iri)]
            if built:  # statistics of the new keys, for the planner
                await conn.execute("ANALYZE entity")
            await _name_stale(conn, iris)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


async def _ensure_index(conn: asyncpg.Connection, iri: str) -> bool:
    """Build the index of ``iri`` unless it is there and valid; True when built."""
    name = index_name(iri)
    valid = await conn.fetchval(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", name
    )
    if valid:
        return False
    ident = sql_identifier(name)
    if valid is False:  # a build that failed half-way (CONCURRENTLY leaves it behind)
        log.warning("index %s of %s is invalid: building it again", name, iri)
        await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {ident}")
    log.info("building index %s of the declared attribute %s", name, iri)
    # Constant fragments only: the name is a hex digest, the IRI a quoted literal.
    await conn.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {ident} ON entity {_definition(iri)}"
    )
    await conn.execute(f"COMMENT ON INDEX {ident} IS {sql_literal(iri)}")
    return True


async def _name_stale(conn: asyncpg.Connection, iris: list[str]) -> None:
    """Log the attribute indexes that no declared attribute needs any more."""
    wanted = {index_name(i) for i in iris}
    rows = await conn.fetch(
        "SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS iri FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass('entity') "
        "AND c.relname LIKE 'entity\\_attr\\_%'"
    )
    for r in rows:
        if r["name"] not in wanted:
            log.warning(
                "index %s (attribute %s) is not declared any more: drop it with DROP INDEX "
                "CONCURRENTLY once no broker uses it",
                r["name"],
                r["iri"],
            )
