"""CKAN action API use cases (CKAN 2.10 ``ckan.logic.action.get``): package_search,
package_show, package_list, current_package_list_with_resources, organization_list,
organization_show, status_show."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from catalogue import __version__
from catalogue.ckan import repository, tsquery
from catalogue.ckan.index import Query
from catalogue.ckan.live import LiveIndex
from catalogue.dcat.ckan import (
    ALIASES,
    FACETS,
    Search,
    facet_display,
    not_found,
    organization,
    package,
    parse_search,
    parse_sort,
    validation_error,
)
from catalogue.dcat.model import KINDS
from mims_shared.db import Database

DEFAULT_FACETS = ["groups", "organization", "res_format", "license_id", "tags", "conforms_to"]


def _int(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool):
        raise validation_error(f"{name}: Invalid integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise validation_error(f"{name}: Invalid integer") from None
    if not low <= number <= high:
        raise validation_error(f"{name}: Must be between {low} and {high}")
    return number


def _str(params: dict[str, Any], name: str, limit: int = 2000) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise validation_error(f"{name}: Must be a string of at most {limit} characters")
    return value


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise validation_error(f"{name}: Must be true or false")


def _facet_fields(params: dict[str, Any]) -> list[str]:
    raw = params.get("facet.field")
    if raw is None:
        return list(DEFAULT_FACETS)
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise validation_error('facet.field: Must be a JSON list of field names, e.g. ["tags"]')
    out: list[str] = []
    for f in raw:
        name = ALIASES.get(f, f)
        if name not in FACETS:
            raise validation_error(f"facet.field: Cannot facet on {f[:50]!r}")
        if name not in out:
            out.append(name)
    return out


class ResultCache:
    """Search results by query, valid for one write version of the catalogue (what Solr's
    query result cache does for CKAN): a repeated search costs one version read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.version = -1
        self.entries: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()

    def get(self, key: Hashable, version: int) -> dict[str, Any] | None:
        if version != self.version:
            self.entries.clear()
            self.version = version
            return None
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def peek(self, key: Hashable) -> int | None:
        """The version ``key``'s answer was cached at, if it is cached."""
        return self.version if key in self.entries else None

    def put(self, key: Hashable, version: int, value: dict[str, Any]) -> None:
        if version < self.version:
            return
        if version > self.version:
            self.entries.clear()
            self.version = version
        if self.size <= 0:
            return
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


class TsqueryCache:
    """The tsquery PostgreSQL makes of a text, by (language, text): the parse does not
    change while the server's text search configurations do not."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[str, str], tsquery.Node | Exception | None] = OrderedDict()

    async def get(self, db: Database, lang: str, text: str) -> tsquery.Node | None:
        """The tree of the text's tsquery; :class:`tsquery.Unsupported` when the index
        cannot evaluate it."""
        key = (lang, text)
        if key not in self.entries:
            async with db.unit_of_work(transaction=False) as uow:
                raw = await repository.tsquery_text(uow.connection, lang, text)
            try:
                self.entries[key] = tsquery.parse(raw)
            except tsquery.Unsupported as exc:
                self.entries[key] = exc
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        self.entries.move_to_end(key)
        found = self.entries[key]
        if isinstance(found, Exception):
            raise found
        return found


class CkanService:
    def __init__(
        self,
        db: Database,
        base_url: str,
        *,
        title: str,
        description: str,
        cache_size: int = 0,
        search_index: bool = True,
        index_refresh_s: float = 1.0,
    ) -> None:
        self.db = db
        self.base = base_url.rstrip("/")
        self.title = title
        self.description = description
        self.cache = ResultCache(cache_size)
        self.index = LiveIndex(db, enabled=search_index, refresh_s=index_refresh_s)
        self.tsqueries = TsqueryCache()
        #: searches answered from the result cache, the index, SQL
        self.answered = {"cache": 0, "index": 0, "sql": 0}

    def _uri(self, did: str) -> str:
        return f"{self.base}/catalogue/v1/{KINDS['dataset'].plural}/{did}"

    def _package(self, raw: dict[str, Any]) -> dict[str, Any]:
        return package(
            raw["id"],
            raw["record"],
            raw["issued"],
            raw["modified"],
            raw["dists"],
            raw["org"],
            self._uri(raw["id"]),
        )

    async def package_search(self, params: dict[str, Any]) -> dict[str, Any]:
        """package_search: q, fq, rows, start, sort, facet, facet.field, facet.limit,
        facet.mincount (and ``lang``: the language to stem the query in)."""
        search = parse_search(_str(params, "q"), _str(params, "fq"))
        rows = _int(params, "rows", 10, 0, 1000)
        start = _int(params, "start", 0, 0, 10_000_000)
        order = parse_sort(_str(params, "sort", 200))
        facets = _facet_fields(params) if _bool(params, "facet", True) else []
        limit = _int(params, "facet.limit", 50, -1, 1000)
        mincount = _int(params, "facet.mincount", 1, 0, 1_000_000)
        lang = _str(params, "lang", 20) or "simple"
        sort = _str(params, "sort", 200) or "score desc, metadata_modified desc"
        key = (repr(search), rows, start, sort, tuple(facets), limit, mincount, lang)
        facet_limit = 1000 if limit < 0 else limit
        cached_at = self.cache.peek(key) if self.cache.size else None
        found = None
        if cached_at is not None:
            async with self.db.unit_of_work(transaction=False) as uow:
                hit = self.cache.get(key, await repository.version(uow.connection))
            if hit is not None:
                self.answered["cache"] += 1
                return hit
        if self.index.enabled:
            found = await self._indexed(
                search, lang, rows, start, order, facets, facet_limit, max(1, mincount)
            )
        self.answered["sql" if found is None else "index"] += 1
        if found is None:
            async with self.db.unit_of_work(transaction=False) as uow:
                version = await repository.version(uow.connection) if self.cache.size else 0
                total, results, counts = await repository.search(
                    uow.connection,
                    search,
                    lang=lang,
                    rows=rows,
                    start=start,
                    order=order,
                    facets=facets,
                    facet_limit=facet_limit,
                    facet_mincount=max(1, mincount),
                )
        else:
            version, total, results, counts = found
        answer = {
            "count": total,
            "sort": sort,
            "results": [self._package(r) for r in results],
            "facets": {f: dict(counts[f]) for f in facets},
            "search_facets": {
                f: {
                    "title": f,
                    "items": [
                        {
                            "name": facet_display(f, v)[0],
                            "display_name": facet_display(f, v)[1],
                            "count": c,
                        }
                        for v, c in counts[f]
                    ],
                }
                for f in facets
            },
        }
        self.cache.put(key, version, answer)
        return answer

    async def _indexed(
        self,
        search: Search,
        lang: str,
        rows: int,
        start: int,
        order: list[tuple[str, bool]],
        facets: list[str],
        facet_limit: int,
        facet_mincount: int,
    ) -> tuple[int, int, list[dict[str, Any]], dict[str, list[tuple[str, int]]]] | None:
        """(version, total, packages, facet counts) from the in-memory index, checked
        against the database's version in the statement that reads the page; None when
        the index cannot answer (being built, a tsquery it does not evaluate, or a
        catalogue that keeps changing under the search)."""
        idx = self.index.index
        if idx is None:
            self.index.start()
            return None
        try:
            text = await self.tsqueries.get(self.db, lang, search.text) if search.text else None
        except tsquery.Unsupported:
            return None
        query = Query(
            has_text=search.text is not None,
            text=text,
            filters={FACETS[f]: v for f, v in search.filters.items()},
            excludes={FACETS[f]: v for f, v in search.exclude.items()},
            ids=search.ids or None,
            modified_from=_micros(search.modified_from),
            modified_to=_micros(search.modified_to),
        )
        columns = [FACETS[f] for f in facets]
        for _ in range(3):
            at = idx.version
            result = idx.search(
                query,
                order=order,
                start=start,
                rows=rows,
                facets=columns,
                facet_limit=facet_limit,
                facet_mincount=facet_mincount,
            )
            async with self.db.unit_of_work(transaction=False) as uow:
                version, packages = await repository.page(uow.connection, result.page)
            if version == at:
                counts = {f: result.facets[FACETS[f]] for f in facets}
                return version, result.total, packages, counts
            updated = await self.index.update()
            if updated is None:
                return None
            idx = updated
        return None

    async def package_show(self, params: dict[str, Any]) -> dict[str, Any]:
        did = _str(params, "id", 200) or _str(params, "name_or_id", 200)
        if not did:
            raise validation_error("id: Missing value")
        async with self.db.unit_of_work(transaction=False) as uow:
            raw = await repository.show(uow.connection, did)
        if raw is None:
            raise not_found(f"Dataset {did} does not exist")
        return self._package(raw)

    async def package_list(self, params: dict[str, Any]) -> list[str]:
        limit = _int(params, "limit", 1000, 1, 10_000)
        offset = _int(params, "offset", 0, 0, 10_000_000)
        async with self.db.unit_of_work(transaction=False) as uow:
            return await repository.names(uow.connection, offset, limit)

    async def current_package_list_with_resources(
        self, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        limit = _int(params, "limit", 10, 1, 1000)
        offset = _int(params, "offset", 0, 0, 10_000_000)
        if "page" in params:
            page = _int(params, "page", 1, 1, 1_000_000)
            offset = (page - 1) * limit
        async with self.db.unit_of_work(transaction=False) as uow:
            raws = await repository.recent(uow.connection, offset, limit)
        return [self._package(r) for r in raws]

    async def organization_list(self, params: dict[str, Any]) -> list[Any]:
        limit = _int(params, "limit", 1000, 1, 1000)
        offset = _int(params, "offset", 0, 0, 10_000_000)
        full = _bool(params, "all_fields", False)
        async with self.db.unit_of_work(transaction=False) as uow:
            rows = await repository.organizations(uow.connection, offset, limit)
        if not full:
            return [r["id"] for r in rows]
        return [
            {**organization(r["id"], r["record"]), "package_count": int(r["package_count"])}
            for r in rows
        ]

    async def organization_show(self, params: dict[str, Any]) -> dict[str, Any]:
        oid = _str(params, "id", 200)
        if not oid:
            raise validation_error("id: Missing value")
        include = _bool(params, "include_datasets", False)
        async with self.db.unit_of_work(transaction=False) as uow:
            row = await repository.organization(uow.connection, oid)
        if row is None:
            raise not_found(f"Organization {oid} does not exist")
        out = {**organization(row["id"], row["record"]), "package_count": int(row["package_count"])}
        if include:
            found = await self.package_search(
                {"fq": f'organization:"{oid}"', "rows": 1000, "facet": "false"}
            )
            out["packages"] = found["results"]
        return out

    async def status_show(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "site_title": self.title,
            "site_description": self.description,
            "site_url": self.base,
            "ckan_version": "2.10.0",
            "locale_default": "en",
            "extensions": ["dcat", "mims-catalogue"],
            "mims_catalogue_version": __version__,
            "mims_search_index": self._index_status(),
        }

    def _index_status(self) -> dict[str, int] | None:
        """The in-memory search index's size and version (None: disabled or building)."""
        idx = self.index.index
        return None if idx is None else {"datasets": len(idx), "version": idx.version}
