"""The CKAN action API's view of the catalogue (CKAN 2.10 API guide, ``ckan.logic.action``):
package dicts, the Solr-style ``q``/``fq``/``sort`` parameters of ``package_search`` and
its facets, mapped onto DCAT-AP records the way ckanext-dcat maps them (groups = themes,
organization = publisher, resources = distributions, tags = keywords).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalogue.dcat import vocab
from catalogue.dcat.model import first_text


class CkanError(Exception):
    """An error in CKAN's own envelope (``__type`` as CKAN names it)."""

    def __init__(self, kind: str, message: str, status: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


def validation_error(message: str) -> CkanError:
    return CkanError("Validation Error", message, 409)


def search_error(message: str) -> CkanError:
    return CkanError("Search Query Error", message, 400)


def not_found(message: str = "Not found") -> CkanError:
    return CkanError("Not Found Error", message, 404)


#: package_search facet and filter fields -> the record column holding their values
FACETS = {
    "groups": "themes",
    "organization": "orgs",
    "res_format": "formats",
    "license_id": "licences",
    "tags": "tags",
    "conforms_to": "models",
}
#: other names clients use for the same fields
ALIASES = {
    "theme": "groups",
    "publisher": "organization",
    "owner_org": "organization",
    "format": "res_format",
    "license": "license_id",
    "licence": "license_id",
    "keyword": "tags",
    "data_model": "conforms_to",
}
#: sort fields -> column of the search's working set
SORTS = {
    "score": "score",
    "metadata_modified": "modified",
    "metadata_created": "issued",
    "title_string": "title_sort",
    "title": "title_sort",
    "name": "id",
    "id": "id",
}
#: fq fields that narrow nothing here (every record is a public dataset of this site)
NEUTRAL = {"dataset_type": "dataset", "capacity": "public", "state": "active", "type": "dataset"}

_TERM = re.compile(
    r'(?P<sign>[+-]?)(?P<field>[A-Za-z_.]+):(?P<value>"[^"]*"|\[[^\]]*\]|\([^)]*\)|[^\s()"\[\]]+)'
)
_RANGE = re.compile(r"^\[\s*(\S+)\s+TO\s+(\S+)\s*\]$")


@dataclass(slots=True)
class Search:
    """A parsed package_search."""

    text: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    exclude: dict[str, list[str]] = field(default_factory=dict)
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    ids: list[str] = field(default_factory=list)


def _timestamp(value: str) -> datetime | None:
    if value in ("*", "NOW"):
        return None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise search_error(f"Cannot parse {value[:50]!r} as a date") from None


def utc(value: datetime) -> datetime:
    """``value`` in UTC (a time without zone is read as UTC); OverflowError at the edges."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _canon(fname: str, value: str) -> str:
    if fname == "groups":
        return value.upper()
    if fname == "res_format":
        return value.upper().replace("-", "_")
    return value.lower() if fname == "tags" else value


def parse_terms(text: str, search: Search, *, strict: bool) -> str:
    """Move ``field:value`` terms of ``text`` into ``search``; the rest is returned."""
    rest: list[str] = []
    pos = 0
    for m in _TERM.finditer(text):
        rest.append(text[pos : m.start()])
        pos = m.end()
        raw_field, value, negative = m["field"], m["value"], m["sign"] == "-"
        fname = ALIASES.get(raw_field, raw_field)
        if value.startswith('"'):
            value = value[1:-1]
        if fname in NEUTRAL:
            continue
        if fname == "metadata_modified":
            rng = _RANGE.match(value)
            if not rng:
                raise search_error("metadata_modified takes a range: [FROM TO TO]")
            search.modified_from = _timestamp(rng[1])
            search.modified_to = _timestamp(rng[2])
            continue
        if fname in ("id", "name"):
            search.ids.append(value)
            continue
        if fname not in FACETS:
            if strict:
                raise search_error(f"Cannot filter on field {raw_field[:50]!r}")
            rest.append(m.group(0))
            continue
        target = search.exclude if negative else search.filters
        target.setdefault(fname, []).append(_canon(fname, value))
    rest.append(text[pos:])
    return " ".join(" ".join(rest).split())


def parse_search(q: str | None, fq: str | None) -> Search:
    search = Search()
    if fq:
        left = parse_terms(fq, search, strict=True)
        if left.replace("AND", "").strip():
            raise search_error(f"Cannot parse the filter query near {left[:80]!r}")
    if q and q.strip() not in ("*:*", "*"):
        text = parse_terms(q, search, strict=False)
        search.text = text or None
    return search


def parse_sort(sort: str | None) -> list[tuple[str, bool]]:
    """``[(column, descending)]``; the default is CKAN's ``score desc, metadata_modified desc``."""
    if not sort or not sort.strip():
        sort = "score desc, metadata_modified desc"
    out: list[tuple[str, bool]] = []
    for part in sort.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise search_error(f"Cannot sort by {part.strip()[:50]!r}")
        column = SORTS.get(words[0])
        direction = words[1].lower() if len(words) == 2 else "asc"
        if column is None or direction not in ("asc", "desc"):
            raise search_error(f"Cannot sort by {part.strip()[:50]!r}")
        out.append((column, direction == "desc"))
    return out


def _label(v: vocab.Vocabulary, code: str) -> str:
    return v.terms.get(code, code)


def organization(agent_id: str, agent: dict[str, Any] | None) -> dict[str, Any]:
    title = str((agent or {}).get("name") or agent_id)
    return {
        "id": agent_id,
        "name": agent_id,
        "title": title,
        "display_name": title,
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "description": "",
        "image_url": "",
    }


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def package(
    did: str,
    record: dict[str, Any],
    issued: Any,
    modified: Any,
    distributions: list[dict[str, Any]],
    agent: dict[str, Any] | None,
    uri: str,
) -> dict[str, Any]:
    """A CKAN package dict of a dataset and its distributions."""
    resources = []
    for n, d in enumerate(distributions):
        r = d["record"]
        fmt = r.get("format") or ""
        resources.append(
            {
                "id": d["id"],
                "package_id": did,
                "position": n,
                "name": first_text(r.get("title")) or d["id"],
                "description": first_text(r.get("description")),
                "url": r.get("downloadURL") or r.get("accessURL") or "",
                "access_url": r.get("accessURL") or "",
                "download_url": r.get("downloadURL") or "",
                "format": fmt,
                "mimetype": r.get("mediaType"),
                "license": r.get("license"),
                "created": _iso(d["issued"]),
                "last_modified": _iso(d["modified"]),
                "state": "active",
                "url_type": None,
            }
        )
    licences = sorted({d["record"]["license"] for d in distributions if d["record"].get("license")})
    licence = licences[0] if licences else ""
    publisher = record.get("publisher")
    tags = record.get("keyword", [])
    extras = [{"key": "uri", "value": uri}]
    if record.get("conformsTo"):
        extras.append({"key": "conforms_to", "value": ",".join(record["conformsTo"])})
    if record.get("accessRights"):
        extras.append(
            {"key": "access_rights", "value": vocab.ACCESS_RIGHTS.uri(record["accessRights"])}
        )
    return {
        "id": did,
        "name": did,
        "title": first_text(record.get("title")),
        "notes": first_text(record.get("description")),
        "url": record.get("landingPage") or "",
        "version": record.get("version"),
        "type": "dataset",
        "state": "active",
        "private": False,
        "metadata_created": _iso(issued),
        "metadata_modified": _iso(modified),
        "license_id": licence,
        "license_title": _label(vocab.LICENCES, licence) if licence else "",
        "license_url": vocab.LICENCES.uri(licence) if licence else "",
        "owner_org": publisher,
        "organization": organization(publisher, agent) if publisher else None,
        "author": None,
        "author_email": None,
        "maintainer": None,
        "maintainer_email": None,
        "tags": [{"name": t, "display_name": t, "state": "active"} for t in tags],
        "num_tags": len(tags),
        "groups": [
            {
                "name": t.lower(),
                "title": _label(vocab.THEMES, t),
                "display_name": _label(vocab.THEMES, t),
            }
            for t in record.get("theme", [])
        ],
        "resources": resources,
        "num_resources": len(resources),
        "extras": extras,
        "uri": uri,
    }


def facet_display(fname: str, value: str) -> tuple[str, str]:
    """(name, display_name) of a facet value as CKAN shows it."""
    if fname == "groups":
        return value.lower(), _label(vocab.THEMES, value)
    if fname == "license_id":
        return value, _label(vocab.LICENCES, value)
    if fname == "res_format":
        return value, _label(vocab.FILE_TYPES, value)
    return value, value
