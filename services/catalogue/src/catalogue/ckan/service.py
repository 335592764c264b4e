"""CKAN action API use cases (CKAN 2.10 ``ckan.logic.action.get``): package_search,
package_show, package_list, current_package_list_with_resources, organization_list,
organization_show, status_show."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import orjson

from catalogue import __version__
from catalogue.ckan import repository
from catalogue.dcat.ckan import (
    ALIASES,
    FACETS,
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

    def put(self, key: Hashable, version: int, value: dict[str, Any]) -> None:
        if self.size <= 0 or version != self.version:
            return
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


class CkanService:
    def __init__(
        self, db: Database, base_url: str, *, title: str, description: str, cache_size: int = 0
    ) -> None:
        self.db = db
        self.base = base_url.rstrip("/")
        self.title = title
        self.description = description
        self.cache = ResultCache(cache_size)

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
        async with self.db.unit_of_work(transaction=False) as uow:
            version = await repository.version(uow.connection) if self.cache.size else 0
            cached = self.cache.get(key, version)
            if cached is not None:
                return cached
            total, results, counts = await repository.search(
                uow.connection,
                search,
                lang=lang,
                rows=rows,
                start=start,
                order=order,
                facets=facets,
                facet_limit=1000 if limit < 0 else limit,
                facet_mincount=max(1, mincount),
            )
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
        }
