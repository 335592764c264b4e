"""SQL for the CKAN API. ``package_search`` is one statement: the matching set with its
rank, one page of packages with their distributions and publisher, the total, and each
facet's counts. Its text is put together from fixed fragments chosen by whitelisted field
names (never from what the client wrote); values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import asyncpg
import orjson

from catalogue.ckan.index import Doc, label_weight
from catalogue.dcat.ckan import FACETS, Search

_PACKAGE_JSON = (
    "json_build_object('id', r.id, 'record', r.record, 'issued', r.issued, "
    "'modified', r.modified, "
    "'dists', (SELECT coalesce(json_agg(json_build_object('id', d.id, 'record', d.record, "
    "'issued', d.issued, 'modified', d.modified) ORDER BY d.id), '[]'::json) "
    "FROM record d WHERE d.parent = r.id AND d.kind = 'distribution'), "
    "'org', (SELECT a.record FROM record a WHERE a.kind = 'agent' AND a.id = r.orgs[1]))"
)


@lru_cache(maxsize=512)
def search_sql(
    text: bool,
    filters: tuple[str, ...],
    excludes: tuple[str, ...],
    ids: bool,
    mod_from: bool,
    mod_to: bool,
    order: tuple[tuple[str, bool], ...],
    facets: tuple[str, ...],
) -> str:
    """The statement for one shape of search. Parameters: $1 rows, $2 start,
    $3 facet limit, $4 facet mincount, $5 language, $6 text, then one per condition."""
    where = ["kind = 'dataset'"]
    n = 6
    if text:
        where.append("tsv @@ websearch_to_tsquery(catalogue_lang_config($5), $6)")
    score = "ts_rank_cd(tsv, websearch_to_tsquery(catalogue_lang_config($5), $6))" if text else "0"
    for fname in filters:
        n += 1
        where.append(FACETS[fname] + " @> $" + str(n) + "::text[]")
    for fname in excludes:
        n += 1
        where.append("NOT (" + FACETS[fname] + " && $" + str(n) + "::text[])")
    if ids:
        n += 1
        where.append("id = ANY($" + str(n) + "::text[])")
    if mod_from:
        n += 1
        where.append("modified >= $" + str(n) + "::timestamptz")
    if mod_to:
        n += 1
        where.append("modified <= $" + str(n) + "::timestamptz")
    columns = sorted({FACETS[f] for f in facets})
    order_by = ", ".join(c + (" DESC" if desc else " ASC") for c, desc in order)
    order_by += ", id ASC" if all(c != "id" for c, _ in order) else ""
    parts = [
        # The params CTE types $3-$6 when a shape of search leaves some of them unused.
        # Fixed fragments and whitelisted column names only:
        "WITH params AS (SELECT $3::int AS fl, $4::int AS fm, $5::text AS lang, $6::text AS qt), "  # noqa: S608
        "m AS MATERIALIZED (SELECT id, modified, issued, title_sort, "
        + score
        + " AS score"
        + "".join(", " + c for c in columns)
        + " FROM record WHERE "
        + " AND ".join(where)
        + "), p AS (SELECT id, modified, issued, title_sort, score FROM m ORDER BY "
        + order_by
        + " LIMIT $1 OFFSET $2) SELECT (SELECT count(*) FROM m) AS total, "
        + "(SELECT coalesce(json_agg("
        + _PACKAGE_JSON
        + " ORDER BY "
        + ", ".join("p." + c + (" DESC" if d else " ASC") for c, d in order)
        + (", p.id ASC" if all(c != "id" for c, _ in order) else "")
        + "), '[]'::json) FROM p JOIN record r ON r.kind = 'dataset' AND r.id = p.id) AS results"
    ]
    for fname in facets:
        col = FACETS[fname]
        parts.append(
            # col comes from the FACETS whitelist
            ", (SELECT coalesce(json_agg(json_build_array(v, c) ORDER BY c DESC, v), '[]'::json) "  # noqa: S608
            "FROM (SELECT v, count(*) AS c FROM m, unnest(m."
            + col
            + ") AS v GROUP BY v HAVING count(*) >= $4 ORDER BY c DESC, v LIMIT $3) f) AS f_"
            + fname
        )
    return "".join(parts)


#: A search is planned for its own parameters: a cached generic plan cannot know how many
#: datasets a text query matches and, measured at 100k datasets, doubles the time of a
#: broad query (41 ms against 20 ms); planning costs about 2 ms. For the search statement
#: only: a pooled connection left so would plan every statement it runs afterwards (the
#: page statement of the index's searches: 0.27 -> 0.47 ms of PostgreSQL CPU, measured).
_CUSTOM_PLANS = "SET plan_cache_mode = force_custom_plan"
_DEFAULT_PLANS = "RESET plan_cache_mode"


def _decode(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def search(
    conn: asyncpg.Connection,
    s: Search,
    *,
    lang: str,
    rows: int,
    start: int,
    order: list[tuple[str, bool]],
    facets: list[str],
    facet_limit: int,
    facet_mincount: int,
) -> tuple[int, list[dict[str, Any]], dict[str, list[tuple[str, int]]]]:
    filters = tuple(sorted(s.filters))
    excludes = tuple(sorted(s.exclude))
    sql = search_sql(
        s.text is not None,
        filters,
        excludes,
        bool(s.ids),
        s.modified_from is not None,
        s.modified_to is not None,
        tuple(order),
        tuple(facets),
    )
    args: list[Any] = [rows, start, facet_limit, facet_mincount, lang, s.text or ""]
    args += [s.filters[f] for f in filters]
    args += [s.exclude[f] for f in excludes]
    if s.ids:
        args.append(s.ids)
    if s.modified_from is not None:
        args.append(s.modified_from)
    if s.modified_to is not None:
        args.append(s.modified_to)
    await conn.execute(_CUSTOM_PLANS)
    try:
        row = await conn.fetchrow(sql, *args)
    finally:
        await conn.execute(_DEFAULT_PLANS)
    assert row is not None
    found = {f: [(str(v), int(c)) for v, c in _decode(row["f_" + f])] for f in facets}
    return int(row["total"]), list(_decode(row["results"])), found


_SHOW = "SELECT " + _PACKAGE_JSON + " AS pkg FROM record r WHERE r.kind = 'dataset' AND r.id = $1"  # noqa: S608
_LIST = "SELECT id FROM record WHERE kind = 'dataset' ORDER BY id OFFSET $1 LIMIT $2"
_RECENT = (
    "SELECT " + _PACKAGE_JSON + " AS pkg FROM record r WHERE r.kind = 'dataset' "  # noqa: S608
    "ORDER BY r.modified DESC, r.id OFFSET $1 LIMIT $2"
)
_ORGS = (
    "SELECT a.id, a.record, (SELECT count(*) FROM record d WHERE d.kind = 'dataset' "
    "AND d.orgs @> ARRAY[a.id]) AS package_count FROM record a WHERE a.kind = 'agent' "
    "AND EXISTS (SELECT 1 FROM record d WHERE d.kind = 'dataset' AND d.orgs @> ARRAY[a.id]) "
    "ORDER BY a.id OFFSET $1 LIMIT $2"
)
_ORG = (
    "SELECT a.id, a.record, (SELECT count(*) FROM record d WHERE d.kind = 'dataset' "
    "AND d.orgs @> ARRAY[a.id]) AS package_count FROM record a "
    "WHERE a.kind = 'agent' AND a.id = $1"
)
_COUNT = "SELECT count(*) FROM record WHERE kind = 'dataset'"
_VERSION = "SELECT version FROM catalogue_version WHERE id = 1"


async def show(conn: asyncpg.Connection, did: str) -> dict[str, Any] | None:
    value = await conn.fetchval(_SHOW, did)
    return None if value is None else dict(_decode(value))


async def names(conn: asyncpg.Connection, offset: int, limit: int) -> list[str]:
    return [r["id"] for r in await conn.fetch(_LIST, offset, limit)]


async def recent(conn: asyncpg.Connection, offset: int, limit: int) -> list[dict[str, Any]]:
    return [dict(_decode(r["pkg"])) for r in await conn.fetch(_RECENT, offset, limit)]


async def organizations(conn: asyncpg.Connection, offset: int, limit: int) -> list[asyncpg.Record]:
    return list(await conn.fetch(_ORGS, offset, limit))


async def organization(conn: asyncpg.Connection, oid: str) -> asyncpg.Record | None:
    return await conn.fetchrow(_ORG, oid)


async def count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(_COUNT))


async def version(conn: asyncpg.Connection) -> int:
    """The catalogue's write version (bumped by every change of records or policies)."""
    return int(await conn.fetchval(_VERSION))


# --- the in-memory search index (catalogue.ckan.index) follows the database -------------

_STATE = "SELECT version, pruned FROM catalogue_version WHERE id = 1"
_CHANGES = (
    "SELECT DISTINCT id FROM catalogue_change WHERE version > $1 AND version <= $2 "
    "ORDER BY id NULLS FIRST"
)
#: What the index keeps of a dataset: stamps in microseconds, facet columns, and each
#: lexeme of ``tsv`` with the labels (A-D) of its positions.
_DOCS = (
    "SELECT r.id, (extract(epoch FROM r.modified) * 1000000)::int8 AS modified, "
    "(extract(epoch FROM r.issued) * 1000000)::int8 AS issued, r.title_sort, "
    "r.themes, r.orgs, r.formats, r.licences, r.tags, r.models, "
    "coalesce(t.lexemes, '{}') AS lexemes, coalesce(t.labels, '{}') AS labels "
    "FROM record r, LATERAL (SELECT array_agg(u.lexeme) AS lexemes, "
    "array_agg(coalesce(array_to_string(u.weights, ''), '')) AS labels "
    "FROM unnest(r.tsv) u) t "
    "WHERE r.kind = 'dataset' AND ($1::text[] IS NULL OR r.id = ANY($1::text[]))"
)
_TSQUERY = "SELECT websearch_to_tsquery(catalogue_lang_config($1), $2)::text"
_PAGE = (
    "SELECT v.version, (SELECT coalesce(json_agg(" + _PACKAGE_JSON + " ORDER BY k.n), "  # noqa: S608
    "'[]'::json) FROM unnest($1::text[]) WITH ORDINALITY AS k(id, n) "
    "JOIN record r ON r.kind = 'dataset' AND r.id = k.id)::text AS results "
    "FROM catalogue_version v WHERE v.id = 1"
)
#: The facet columns the index keeps.
INDEX_COLUMNS = ("themes", "orgs", "formats", "licences", "tags", "models")


def _doc(row: asyncpg.Record) -> Doc:
    return Doc(
        row["id"],
        row["modified"],
        row["issued"],
        row["title_sort"],
        row["lexemes"],
        [label_weight(labels) for labels in row["labels"]],
        {c: row[c] for c in INDEX_COLUMNS},
    )


async def index_state(conn: asyncpg.Connection) -> tuple[int, int]:
    """(version, pruned): the catalogue's write version, and the version up to which
    changes may no longer be listed."""
    row = await conn.fetchrow(_STATE)
    assert row is not None
    return int(row["version"]), int(row["pruned"])


async def changed_since(conn: asyncpg.Connection, since: int, upto: int) -> list[str | None]:
    """Ids of the datasets written or deleted after version ``since`` up to ``upto``
    (``None`` first when every dataset changed)."""
    return [r["id"] for r in await conn.fetch(_CHANGES, since, upto)]


async def index_docs(
    conn: asyncpg.Connection, ids: list[str] | None, chunk: int = 2000
) -> AsyncIterator[Doc]:
    """The datasets (all, or those of ``ids``) as the index keeps them. Runs in the
    caller's transaction (a cursor needs one)."""
    async for row in conn.cursor(_DOCS, ids, prefetch=chunk):
        yield _doc(row)


async def tsquery_text(conn: asyncpg.Connection, lang: str, text: str) -> str:
    """The tsquery PostgreSQL makes of the user's words (``websearch_to_tsquery`` in the
    configuration of ``lang``), as text."""
    return str(await conn.fetchval(_TSQUERY, lang, text))


async def page(conn: asyncpg.Connection, ids: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """The catalogue's write version and the packages of ``ids``, in one snapshot (as
    text: orjson decodes it faster than the driver's JSON codec)."""
    row = await conn.fetchrow(_PAGE, ids)
    assert row is not None
    return int(row["version"]), list(_decode(row["results"]))
