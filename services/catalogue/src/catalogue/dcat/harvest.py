"""What a harvest reads, mapped onto catalogue records (pure: no HTTP, no database).

- NGSI-LD discovery (ETSI GS CIM 009 V1.8.1, 5.7.6 "Details of Available Entity Types"):
  each entity type becomes a dataset with an NGSI-LD distribution whose access URL is the
  broker's query for that type;
- a DCAT-AP RDF document (any syntax rdflib reads): its dcat:Dataset nodes with their
  distributions and publishers (the DCAT-AP 3.0.1 properties this catalogue keeps);
- a CKAN ``package_search`` page: packages, resources and organizations, read the way
  ckanext-dcat maps them the other way round.

Local identifiers of harvested records are ``{source}-{digest of the remote identity}``, so
harvesting the same thing twice writes the same records (idempotent).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF

from catalogue.dcat import vocab
from catalogue.dcat.model import URL_PATTERN
from catalogue.dcat.rdf import DCAT


@dataclass(slots=True)
class Harvested:
    kind: str
    id: str
    record: dict[str, Any]


@dataclass(slots=True)
class HarvestedDataset:
    dataset: Harvested
    distributions: list[Harvested] = field(default_factory=list)
    agent: Harvested | None = None
    #: what was left out, in words
    notes: list[str] = field(default_factory=list)
    #: other records the distributions name (the broker's data service), shared by items
    related: list[Harvested] = field(default_factory=list)


def local_id(source: str, remote: str) -> str:
    digest = hashlib.sha256(remote.encode()).hexdigest()[:16]
    return f"{source}-{digest}"[:128]


_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text).strip("-.")[:60] or "x"


# --- NGSI-LD discovery -------------------------------------------------------------------
def from_entity_types(
    source: str,
    details: list[dict[str, Any]],
    *,
    broker_public_url: str,
    tenant: str,
    models: dict[str, list[str]],
) -> list[HarvestedDataset]:
    """One dataset per EntityType (5.2.25) of the Details of Available Entity Types, each
    with an NGSI-LD distribution served by the broker as a dcat:DataService."""
    out: list[HarvestedDataset] = []
    base = broker_public_url.rstrip("/")
    where = f" (tenant {tenant})" if tenant else ""
    service = Harvested(
        "data-service",
        f"{source}-ngsi-ld-api"[:128],
        {
            "title": {"en": f"Context broker{where}"},
            "description": {
                "en": "The city's context information (NGSI-LD, ETSI GS CIM 009)"
                + (f"; send the header NGSILD-Tenant: {tenant}" if tenant else "")
                + "."
            },
            "endpointURL": [f"{base}/ngsi-ld/v1"],
            "endpointDescription": [],
            "servesDataset": [],
            "keyword": ["NGSI-LD"],
            "theme": [],
            "contactPoint": [],
            "conformsTo": [vocab.NGSI_LD_STANDARD],
            "language": [],
        },
    )
    for item in details:
        name = item.get("typeName")
        iri = item.get("id")
        if not isinstance(name, str) or not isinstance(iri, str):
            continue
        attrs = [a for a in item.get("attributeNames", []) if isinstance(a, str)]
        did = f"{source}-{_slug(name)}-{hashlib.sha256(iri.encode()).hexdigest()[:8]}"[:128]
        where = f" of tenant {tenant}" if tenant else ""
        record: dict[str, Any] = {
            "title": {"en": f"{name} entities"},
            "description": {
                "en": f"Context information of entity type {name} ({iri}) in the city's "
                f"context broker{where}, read with NGSI-LD. Attributes: "
                + (", ".join(attrs[:50]) or "none")
                + "."
            },
            "keyword": [name[:200], "NGSI-LD"],
            "theme": [],
            "contactPoint": [],
            "conformsTo": models.get(name, []),
            "language": [],
            "inSeries": [],
        }
        url = f"{base}/ngsi-ld/v1/entities?type={quote(name, safe='')}"
        dist: dict[str, Any] = {
            "dataset": did,
            "title": {"en": f"NGSI-LD query for {name}"},
            "description": {
                "en": "GET this URL with an NGSI-LD client"
                + (f" and the header NGSILD-Tenant: {tenant}" if tenant else "")
                + "."
            },
            "accessURL": url,
            "format": "JSON_LD",
            "mediaType": "application/ld+json",
            "accessService": [service.id],
            "conformsTo": [vocab.NGSI_LD_STANDARD],
            "language": [],
        }
        service.record["servesDataset"].append(did)
        out.append(
            HarvestedDataset(
                Harvested("dataset", did, record),
                [Harvested("distribution", f"{did}-ngsi-ld"[:128], dist)],
                related=[service],
            )
        )
    return out


# --- DCAT-AP RDF ----------------------------------------------------------------------------
def _texts(g: Graph, s: Any, p: URIRef) -> dict[str, str]:
    out: dict[str, str] = {}
    for o in g.objects(s, p):
        if isinstance(o, Literal) and str(o).strip():
            lang = o.language or "en"
            if re.fullmatch(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*", lang):
                out.setdefault(lang, str(o)[:10_000])
    return out


def _coded(v: vocab.Vocabulary, value: str, notes: list[str], what: str) -> str | None:
    code = v.code_of(value)
    if code is None:
        notes.append(f"{what} {value[:200]} is not in the EU {v.name} vocabulary: left out")
    return code


def _url(value: Any) -> str | None:
    text = str(value)
    return text if re.fullmatch(URL_PATTERN, text) and len(text) <= 2000 else None


def from_dcat(source: str, g: Graph) -> list[HarvestedDataset]:
    """The dcat:Dataset nodes of ``g`` with what this catalogue keeps of them."""
    out: list[HarvestedDataset] = []
    for s in sorted(set(g.subjects(RDF.type, DCAT.Dataset)), key=str):
        notes: list[str] = []
        did = local_id(source, str(s))
        record: dict[str, Any] = {
            "title": _texts(g, s, DCTERMS.title),
            "description": _texts(g, s, DCTERMS.description),
            "keyword": sorted({str(k)[:200] for k in g.objects(s, DCAT.keyword) if str(k).strip()})[
                :100
            ],
            "theme": [],
            "contactPoint": [],
            "conformsTo": [],
            "language": [],
            "inSeries": [],
        }
        for t in g.objects(s, DCAT.theme):
            code = _coded(vocab.THEMES, str(t), notes, "theme")
            if code and code not in record["theme"]:
                record["theme"].append(code)
        for t in g.objects(s, DCTERMS.language):
            code = _coded(vocab.LANGUAGES, str(t), notes, "language")
            if code and code not in record["language"]:
                record["language"].append(code)
        rights = g.value(s, DCTERMS.accessRights)
        if rights is not None:
            code = _coded(vocab.ACCESS_RIGHTS, str(rights), notes, "access right")
            if code:
                record["accessRights"] = code
        for c in g.objects(s, DCTERMS.conformsTo):
            if isinstance(c, URIRef) and _url(c):
                record["conformsTo"].append(str(c))
        page = g.value(s, DCAT.landingPage)
        if page is not None and _url(page):
            record["landingPage"] = str(page)
        if not record["title"]:
            record.pop("title")
        if not record["description"]:
            record.pop("description")
        agent: Harvested | None = None
        pub = g.value(s, DCTERMS.publisher)
        if pub is not None:
            name = g.value(pub, FOAF.name)
            if name is not None and str(name).strip():
                agent = Harvested("agent", local_id(source, str(pub)), {"name": str(name)[:500]})
                record["publisher"] = agent.id
        dists: list[Harvested] = []
        for d in sorted(set(g.objects(s, DCAT.distribution)), key=str):
            dist: dict[str, Any] = {
                "dataset": did,
                "accessService": [],
                "conformsTo": [],
                "language": [],
            }
            title = _texts(g, d, DCTERMS.title)
            if title:
                dist["title"] = title
            for key, p in (("accessURL", DCAT.accessURL), ("downloadURL", DCAT.downloadURL)):
                value = g.value(d, p)
                if value is not None and _url(value):
                    dist[key] = str(value)
            fmt = g.value(d, DCTERMS.format)
            if fmt is not None:
                code = _coded(vocab.FILE_TYPES, str(fmt), notes, "format")
                if code:
                    dist["format"] = code
            lic = g.value(d, DCTERMS.license)
            if lic is not None:
                code = _coded(vocab.LICENCES, str(lic), notes, "licence")
                if code:
                    dist["license"] = code
            media = g.value(d, DCAT.mediaType)
            if media is not None:
                text = str(media).removeprefix(vocab.IANA_MEDIA)
                if re.fullmatch(r"[\w.+-]+/[\w.+-]+", text):
                    dist["mediaType"] = text.lower()
            dists.append(Harvested("distribution", local_id(source, str(d)), dist))
        out.append(HarvestedDataset(Harvested("dataset", did, record), dists, agent, notes))
    return out


def next_page(g: Graph) -> str | None:
    """The Hydra next page of a paged DCAT document (hydra:nextPage or hydra:next)."""
    hydra = "http://www.w3.org/ns/hydra/core#"
    for p in (URIRef(hydra + "nextPage"), URIRef(hydra + "next")):
        for o in g.objects(None, p):
            return str(o)
    return None


# --- CKAN -----------------------------------------------------------------------------------
def from_ckan(source: str, packages: list[dict[str, Any]]) -> list[HarvestedDataset]:
    out: list[HarvestedDataset] = []
    for pkg in packages:
        if not isinstance(pkg, dict) or not isinstance(pkg.get("id"), str):
            continue
        notes: list[str] = []
        did = local_id(source, pkg["id"])
        record: dict[str, Any] = {
            "keyword": [],
            "theme": [],
            "contactPoint": [],
            "conformsTo": [],
            "language": [],
            "inSeries": [],
        }
        if isinstance(pkg.get("title"), str) and pkg["title"].strip():
            record["title"] = {"en": pkg["title"][:10_000]}
        if isinstance(pkg.get("notes"), str) and pkg["notes"].strip():
            record["description"] = {"en": pkg["notes"][:10_000]}
        for tag in pkg.get("tags") or []:
            name = tag.get("name") if isinstance(tag, dict) else None
            if isinstance(name, str) and name.strip():
                record["keyword"].append(name[:200])
        for group in pkg.get("groups") or []:
            name = group.get("name") if isinstance(group, dict) else None
            if isinstance(name, str):
                code = _coded(vocab.THEMES, name.upper(), notes, "theme")
                if code and code not in record["theme"]:
                    record["theme"].append(code)
        if _url(pkg.get("url") or ""):
            record["landingPage"] = pkg["url"]
        agent: Harvested | None = None
        org = pkg.get("organization")
        if isinstance(org, dict) and isinstance(org.get("id"), str):
            agent = Harvested(
                "agent",
                local_id(source, org["id"]),
                {"name": str(org.get("title") or org.get("name") or org["id"])[:500]},
            )
            record["publisher"] = agent.id
        licence = pkg.get("license_id")
        lic_code = None
        if isinstance(licence, str) and licence:
            lic_code = _coded(vocab.LICENCES, licence, notes, "licence")
        dists: list[Harvested] = []
        for res in pkg.get("resources") or []:
            if not isinstance(res, dict) or not isinstance(res.get("id"), str):
                continue
            dist: dict[str, Any] = {
                "dataset": did,
                "accessService": [],
                "conformsTo": [],
                "language": [],
            }
            url = _url(res.get("access_url") or res.get("url") or "")
            if url:
                dist["accessURL"] = url
            if _url(res.get("download_url") or ""):
                dist["downloadURL"] = res["download_url"]
            if isinstance(res.get("name"), str) and res["name"].strip():
                dist["title"] = {"en": res["name"][:10_000]}
            fmt = res.get("format")
            if isinstance(fmt, str) and fmt:
                code = _coded(vocab.FILE_TYPES, fmt.upper().replace("-", "_"), notes, "format")
                if code:
                    dist["format"] = code
            if lic_code:
                dist["license"] = lic_code
            dists.append(Harvested("distribution", local_id(source, res["id"]), dist))
        out.append(HarvestedDataset(Harvested("dataset", did, record), dists, agent, notes))
    return out
