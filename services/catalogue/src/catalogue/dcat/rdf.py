"""Records as DCAT-AP 3.0.1 RDF (rdflib), and RDF documents in the usual syntaxes.

Every record is one subject whose URI is ``{base}/catalogue/v1/{kind}/{id}``. The nodes
a record points to are described in the same graph just as far as DCAT-AP's range shapes
need (an Agent's name, a Concept's label, a DataService's title and endpoint...), so each
record's own graph is valid against the shapes on its own. The mapping follows the
DCAT-AP 3.0.1 property tables (sections 6.3 to 6.20).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, XSD

from catalogue.dcat import vocab
from catalogue.dcat.model import KINDS, first_text, is_uri

#: DCAT 3 (rdflib's own DCAT namespace is closed on DCAT 2 terms)
DCAT = Namespace("http://www.w3.org/ns/dcat#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ODRL = Namespace("http://www.w3.org/ns/odrl/2/")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")

PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "skos": SKOS,
    "vcard": VCARD,
    "odrl": ODRL,
    "hydra": HYDRA,
    "adms": ADMS,
    "owl": OWL,
    "xsd": XSD,
    "dcatap": DCATAP,
}

#: media type -> rdflib serializer name
SYNTAXES = {
    "text/turtle": "turtle",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
}
#: file extension -> media type
EXTENSIONS = {
    "ttl": "text/turtle",
    "jsonld": "application/ld+json",
    "rdf": "application/rdf+xml",
    "xml": "application/rdf+xml",
    "nt": "application/n-triples",
}


@dataclass(slots=True)
class Stored:
    """A record as stored: its kind, local id, JSON record and timestamps."""

    kind: str
    id: str
    record: dict[str, Any]
    issued: datetime
    modified: datetime


@dataclass(slots=True)
class Bundle:
    """Records to render, with what they point to and what belongs to them."""

    items: list[Stored]
    related: dict[tuple[str, str], Stored] = field(default_factory=dict)
    #: dataset id -> its distributions
    children: dict[str, list[Stored]] = field(default_factory=dict)
    #: dataset id -> its ODRL policies (JSON-LD)
    policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Mapper:
    """Builds the DCAT-AP graph of records published under ``base``."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.ns = Namespace(self.base + "/catalogue/v1/ns#")

    def uri(self, kind: str, rid: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/v1/{KINDS[kind].plural}/{rid}")

    def catalogue_uri(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue/catalog")

    def new_graph(self) -> Graph:
        g = Graph(bind_namespaces="none")
        for prefix, ns in PREFIXES.items():
            g.bind(prefix, ns)
        g.bind("mims", self.ns)
        return g

    # --- building blocks -------------------------------------------------------------
    @staticmethod
    def _texts(g: Graph, s: URIRef, p: URIRef, value: Any) -> None:
        if isinstance(value, dict):
            for lang, text in value.items():
                g.add((s, p, Literal(text, lang=lang)))
        elif isinstance(value, str):
            g.add((s, p, Literal(value)))

    @staticmethod
    def _coded(g: Graph, s: URIRef, p: URIRef, v: vocab.Vocabulary, code: str | None) -> None:
        if not code:
            return
        o = URIRef(v.uri(code))
        g.add((s, p, o))
        g.add((o, RDF.type, URIRef(v.rdf_class)))
        if v.rdf_class == str(SKOS.Concept):
            g.add((o, SKOS.prefLabel, Literal(v.terms[code], lang="en")))
            g.add((o, SKOS.inScheme, URIRef(v.base.rstrip("/"))))

    @staticmethod
    def _stamp(g: Graph, s: URIRef, st: Stored) -> None:
        g.add((s, DCTERMS.issued, Literal(st.issued, datatype=XSD.dateTime)))
        g.add((s, DCTERMS.modified, Literal(st.modified, datatype=XSD.dateTime)))

    def _agent(self, g: Graph, s: URIRef, p: URIRef, aid: str | None, b: Bundle) -> None:
        if not aid:
            return
        st = b.related.get(("agent", aid))
        if st is None:
            return
        o = self.uri("agent", aid)
        g.add((s, p, o))
        self.describe_agent(g, st)

    def describe_agent(self, g: Graph, st: Stored) -> URIRef:
        o = self.uri("agent", st.id)
        r = st.record
        g.add((o, RDF.type, FOAF.Agent))
        if r.get("name"):
            g.add((o, FOAF.name, Literal(r["name"])))
        if r.get("email"):
            g.add((o, FOAF.mbox, URIRef("mailto:" + r["email"])))
        if r.get("homepage"):
            g.add((o, FOAF.homepage, URIRef(r["homepage"])))
            g.add((URIRef(r["homepage"]), RDF.type, FOAF.Document))
        return o

    def describe_contact(self, g: Graph, st: Stored) -> URIRef:
        o = self.uri("contact-point", st.id)
        r = st.record
        g.add((o, RDF.type, VCARD.Kind))
        g.add((o, VCARD.fn, Literal(r["fn"])))
        if r.get("email"):
            g.add((o, VCARD.hasEmail, URIRef("mailto:" + r["email"])))
        if r.get("url"):
            g.add((o, VCARD.hasURL, URIRef(r["url"])))
        return o

    def _contacts(self, g: Graph, s: URIRef, ids: Iterable[str], b: Bundle) -> None:
        for cid in ids:
            st = b.related.get(("contact-point", cid))
            if st is not None:
                g.add((s, DCAT.contactPoint, self.describe_contact(g, st)))

    def _standards(self, g: Graph, s: URIRef, refs: Iterable[str], b: Bundle) -> None:
        for ref in refs:
            if is_uri(ref):
                o = URIRef(ref)
                g.add((s, DCTERMS.conformsTo, o))
                g.add((o, RDF.type, DCTERMS.Standard))
                continue
            st = b.related.get(("data-model", ref))
            if st is not None:
                g.add((s, DCTERMS.conformsTo, self.describe_data_model(g, st, b, full=False)))

    def _page(self, g: Graph, s: URIRef, p: URIRef, url: str | None) -> None:
        if url:
            g.add((s, p, URIRef(url)))
            g.add((URIRef(url), RDF.type, FOAF.Document))

    def _resource(self, g: Graph, s: URIRef, st: Stored, b: Bundle) -> None:
        """What Dataset, DataService and DatasetSeries share (DCAT-AP 6.5-6.7)."""
        r = st.record
        g.add((s, DCTERMS.identifier, Literal(st.id)))
        self._texts(g, s, DCTERMS.title, r.get("title"))
        self._texts(g, s, DCTERMS.description, r.get("description"))
        for kw in r.get("keyword", []):
            g.add((s, DCAT.keyword, Literal(kw)))
        for code in r.get("theme", []):
            self._coded(g, s, DCAT.theme, vocab.THEMES, code)
        self._agent(g, s, DCTERMS.publisher, r.get("publisher"), b)
        self._contacts(g, s, r.get("contactPoint", []), b)
        self._coded(g, s, DCTERMS.accessRights, vocab.ACCESS_RIGHTS, r.get("accessRights"))
        for code in r.get("language", []):
            self._coded(g, s, DCTERMS.language, vocab.LANGUAGES, code)
        self._standards(g, s, r.get("conformsTo", []), b)
        self._page(g, s, DCAT.landingPage, r.get("landingPage"))
        self._stamp(g, s, st)

    # --- the kinds ---------------------------------------------------------------------
    def describe_dataset(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        s = self.uri("dataset", st.id)
        r = st.record
        g.add((s, RDF.type, DCAT.Dataset))
        self._resource(g, s, st, b)
        self._coded(g, s, DCTERMS.accrualPeriodicity, vocab.FREQUENCIES, r.get("frequency"))
        if r.get("version"):
            g.add((s, DCAT.version, Literal(r["version"])))
        for sid in r.get("inSeries", []):
            series = b.related.get(("dataset-series", sid))
            if series is not None:
                o = self.uri("dataset-series", sid)
                g.add((s, DCAT.inSeries, o))
                g.add((o, RDF.type, DCAT.DatasetSeries))
                self._texts(g, o, DCTERMS.title, series.record.get("title"))
                self._texts(g, o, DCTERMS.description, series.record.get("description"))
        for dist in b.children.get(st.id, []):
            g.add((s, DCAT.distribution, self.describe_distribution(g, dist, b)))
        for policy in b.policies.get(st.id, []):
            g.add((s, ODRL.hasPolicy, self.describe_policy(g, s, policy)))
        return s

    def describe_distribution(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        s = self.uri("distribution", st.id)
        r = st.record
        g.add((s, RDF.type, DCAT.Distribution))
        g.add((s, DCTERMS.identifier, Literal(st.id)))
        self._texts(g, s, DCTERMS.title, r.get("title"))
        self._texts(g, s, DCTERMS.description, r.get("description"))
        if r.get("accessURL"):
            g.add((s, DCAT.accessURL, URIRef(r["accessURL"])))
        if r.get("downloadURL"):
            g.add((s, DCAT.downloadURL, URIRef(r["downloadURL"])))
        self._coded(g, s, DCTERMS.format, vocab.FILE_TYPES, r.get("format"))
        if r.get("mediaType"):
            o = URIRef(vocab.IANA_MEDIA + r["mediaType"])
            g.add((s, DCAT.mediaType, o))
            g.add((o, RDF.type, DCTERMS.MediaType))
        self._coded(g, s, DCTERMS.license, vocab.LICENCES, r.get("license"))
        for code in r.get("language", []):
            self._coded(g, s, DCTERMS.language, vocab.LANGUAGES, code)
        if r.get("byteSize") is not None:
            g.add((s, DCAT.byteSize, Literal(r["byteSize"], datatype=XSD.nonNegativeInteger)))
        for sid in r.get("accessService", []):
            svc = b.related.get(("data-service", sid))
            if svc is not None:
                o = self.uri("data-service", sid)
                g.add((s, DCAT.accessService, o))
                g.add((o, RDF.type, DCAT.DataService))
                self._texts(g, o, DCTERMS.title, svc.record.get("title"))
                for url in svc.record.get("endpointURL", []):
                    _resource_link(g, o, DCAT.endpointURL, url)
        self._standards(g, s, r.get("conformsTo", []), b)
        self._stamp(g, s, st)
        return s

    def describe_data_service(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        s = self.uri("data-service", st.id)
        r = st.record
        g.add((s, RDF.type, DCAT.DataService))
        self._resource(g, s, st, b)
        for url in r.get("endpointURL", []):
            _resource_link(g, s, DCAT.endpointURL, url)
        for url in r.get("endpointDescription", []):
            _resource_link(g, s, DCAT.endpointDescription, url)
        self._coded(g, s, DCTERMS.license, vocab.LICENCES, r.get("license"))
        for did in r.get("servesDataset", []):
            ds = b.related.get(("dataset", did))
            if ds is not None:
                o = self.uri("dataset", did)
                g.add((s, DCAT.servesDataset, o))
                g.add((o, RDF.type, DCAT.Dataset))
                self._texts(g, o, DCTERMS.title, ds.record.get("title"))
                self._texts(g, o, DCTERMS.description, ds.record.get("description"))
        return s

    def describe_dataset_series(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        s = self.uri("dataset-series", st.id)
        g.add((s, RDF.type, DCAT.DatasetSeries))
        self._resource(g, s, st, b)
        self._coded(g, s, DCTERMS.accrualPeriodicity, vocab.FREQUENCIES, st.record.get("frequency"))
        return s

    def describe_catalogue(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        s = self.uri("catalogue", st.id)
        r = st.record
        g.add((s, RDF.type, DCAT.Catalog))
        g.add((s, DCTERMS.identifier, Literal(st.id)))
        self._texts(g, s, DCTERMS.title, r.get("title"))
        self._texts(g, s, DCTERMS.description, r.get("description"))
        self._agent(g, s, DCTERMS.publisher, r.get("publisher"), b)
        self._page(g, s, FOAF.homepage, r.get("homepage"))
        for code in r.get("language", []):
            self._coded(g, s, DCTERMS.language, vocab.LANGUAGES, code)
        self._coded(g, s, DCTERMS.license, vocab.LICENCES, r.get("license"))
        for did in r.get("dataset", []):
            ds = b.related.get(("dataset", did))
            if ds is not None:
                o = self.uri("dataset", did)
                g.add((s, DCAT.dataset, o))
                g.add((o, RDF.type, DCAT.Dataset))
                self._texts(g, o, DCTERMS.title, ds.record.get("title"))
                self._texts(g, o, DCTERMS.description, ds.record.get("description"))
        for sid in r.get("service", []):
            svc = b.related.get(("data-service", sid))
            if svc is not None:
                o = self.uri("data-service", sid)
                g.add((s, DCAT.service, o))
                g.add((o, RDF.type, DCAT.DataService))
                self._texts(g, o, DCTERMS.title, svc.record.get("title"))
                for url in svc.record.get("endpointURL", []):
                    _resource_link(g, o, DCAT.endpointURL, url)
        self._stamp(g, s, st)
        return s

    def describe_agent_record(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        return self.describe_agent(g, st)

    def describe_contact_record(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        return self.describe_contact(g, st)

    def describe_data_model(self, g: Graph, st: Stored, b: Bundle, *, full: bool = True) -> URIRef:
        """A MIM2 data model as a dct:Standard: its JSON Schema and @context are linked
        with ``mims:jsonSchema`` and ``mims:context``, its entity types with
        ``mims:entityType``."""
        s = self.uri("data-model", st.id)
        r = st.record
        g.add((s, RDF.type, DCTERMS.Standard))
        self._texts(g, s, DCTERMS.title, r.get("title"))
        if not full:
            return s
        g.add((s, RDF.type, self.ns.DataModel))
        g.add((s, DCTERMS.identifier, Literal(st.id)))
        self._texts(g, s, DCTERMS.description, r.get("description"))
        g.add((s, OWL.versionInfo, Literal(r["version"])))
        g.add((s, self.ns.jsonSchema, URIRef(r["schema"])))
        g.add((s, self.ns.context, URIRef(r["context"])))
        for t in r.get("entityTypes", []):
            g.add((s, self.ns.entityType, Literal(t)))
        self._agent(g, s, DCTERMS.publisher, r.get("publisher"), b)
        self._page(g, s, FOAF.page, r.get("documentation"))
        for kw in r.get("keyword", []):
            g.add((s, DCAT.keyword, Literal(kw)))
        for code in r.get("theme", []):
            self._coded(g, s, DCAT.theme, vocab.THEMES, code)
        self._stamp(g, s, st)
        return s

    def describe_tool(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        """A digital tool or solution: an adms:Asset (the ADMS class for interoperability
        solutions) and a dcat:Resource of the catalogue."""
        s = self.uri("tool", st.id)
        r = st.record
        g.add((s, RDF.type, ADMS.Asset))
        g.add((s, RDF.type, DCAT.Resource))
        g.add((s, DCTERMS.identifier, Literal(st.id)))
        self._texts(g, s, DCTERMS.title, r.get("title"))
        self._texts(g, s, DCTERMS.description, r.get("description"))
        self._agent(g, s, DCTERMS.publisher, r.get("provider"), b)
        for mim in r.get("mims", []):
            o = self.ns["MIM-" + mim]
            g.add((s, DCTERMS.conformsTo, o))
            g.add((o, RDF.type, DCTERMS.Standard))
            g.add((o, DCTERMS.title, Literal(f"{mim} {vocab.MIMS[mim]}", lang="en")))
        self._standards(g, s, r.get("conformsTo", []), b)
        if r.get("apiDescription"):
            g.add((s, self.ns.apiDescription, URIRef(r["apiDescription"])))
        for url in r.get("deployedAt", []):
            g.add((s, self.ns.deployedAt, URIRef(url)))
        self._page(g, s, FOAF.homepage, r.get("homepage"))
        for kw in r.get("keyword", []):
            g.add((s, DCAT.keyword, Literal(kw)))
        for code in r.get("theme", []):
            self._coded(g, s, DCAT.theme, vocab.THEMES, code)
        self._coded(g, s, DCTERMS.license, vocab.LICENCES, r.get("license"))
        self._stamp(g, s, st)
        return s

    def describe_policy(self, g: Graph, dataset: URIRef, policy: dict[str, Any]) -> URIRef:
        """An ODRL policy (ODRL Information Model 2.2): its type, uid, and rules with
        their actions, targets, assigners and assignees."""
        uid = policy.get("uid") or policy.get("@id")
        s = URIRef(str(uid))
        kind = policy.get("@type") or policy.get("type") or "Policy"
        g.add((s, RDF.type, ODRL.Policy))
        if isinstance(kind, str) and kind in ("Offer", "Agreement", "Set", "Policy"):
            g.add((s, RDF.type, ODRL[kind]))
        for rule_kind in ("permission", "prohibition", "obligation"):
            rules = policy.get(rule_kind) or []
            for rule in rules if isinstance(rules, list) else [rules]:
                if not isinstance(rule, dict):
                    continue
                node = BNode()
                g.add((s, ODRL[rule_kind], node))
                self._odrl_values(g, node, rule, dataset)
        for key in ("assigner", "assignee"):
            self._odrl_ref(g, s, ODRL[key], policy.get(key))
        return s

    def _odrl_values(self, g: Graph, node: BNode, rule: dict[str, Any], dataset: URIRef) -> None:
        actions = rule.get("action")
        for action in actions if isinstance(actions, list) else [actions]:
            name = (
                action.get("@id") or action.get("rdf:value") if isinstance(action, dict) else action
            )
            if isinstance(name, str) and name:
                g.add((node, ODRL.action, URIRef(name) if ":" in name else ODRL[name]))
        target = rule.get("target")
        g.add(
            (
                node,
                ODRL.target,
                URIRef(target) if isinstance(target, str) and ":" in target else dataset,
            )
        )
        for key in ("assigner", "assignee"):
            self._odrl_ref(g, node, ODRL[key], rule.get(key))
        constraints = rule.get("constraint") or []
        for c in constraints if isinstance(constraints, list) else [constraints]:
            if (
                isinstance(c, dict)
                and isinstance(c.get("leftOperand"), str)
                and isinstance(c.get("operator"), str)
            ):
                cn = BNode()
                g.add((node, ODRL.constraint, cn))
                g.add((cn, ODRL.leftOperand, ODRL[c["leftOperand"]]))
                g.add((cn, ODRL.operator, ODRL[c["operator"]]))
                if "rightOperand" in c and isinstance(c["rightOperand"], str | int | float):
                    g.add((cn, ODRL.rightOperand, Literal(c["rightOperand"])))

    @staticmethod
    def _odrl_ref(g: Graph, s: URIRef | BNode, p: URIRef, value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("uid") or value.get("@id")
        if _is_iri(value):
            g.add((s, p, URIRef(value)))

    def describe(self, g: Graph, st: Stored, b: Bundle) -> URIRef:
        return {
            "dataset": self.describe_dataset,
            "distribution": self.describe_distribution,
            "data-service": self.describe_data_service,
            "dataset-series": self.describe_dataset_series,
            "catalogue": self.describe_catalogue,
            "agent": self.describe_agent_record,
            "contact-point": self.describe_contact_record,
            "data-model": self.describe_data_model,
            "tool": self.describe_tool,
        }[st.kind](g, st, b)

    def graph_of(self, b: Bundle) -> Graph:
        g = self.new_graph()
        for st in b.items:
            self.describe(g, st, b)
        return g

    # --- the catalogue document, paged with Hydra ----------------------------------------
    def catalogue_head(
        self,
        g: Graph,
        *,
        title: dict[str, str],
        description: dict[str, str],
        publisher_name: str,
        homepage: str | None,
        page: PageLinks,
        items: Iterable[Stored],
    ) -> None:
        """The catalogue node, its publisher and the Hydra paging node of one page
        (Hydra Core Vocabulary; ``hydra:PagedCollection`` as ckanext-dcat publishes it)."""
        c = self.catalogue_uri()
        g.add((c, RDF.type, DCAT.Catalog))
        self._texts(g, c, DCTERMS.title, title)
        self._texts(g, c, DCTERMS.description, description)
        pub = URIRef(str(c) + "#publisher")
        g.add((c, DCTERMS.publisher, pub))
        g.add((pub, RDF.type, FOAF.Agent))
        g.add((pub, FOAF.name, Literal(publisher_name)))
        self._page(g, c, FOAF.homepage, homepage)
        g.add((c, DCAT.themeTaxonomy, URIRef(vocab.THEMES.base.rstrip("/"))))
        g.add((URIRef(vocab.THEMES.base.rstrip("/")), RDF.type, SKOS.ConceptScheme))
        g.add(
            (URIRef(vocab.THEMES.base.rstrip("/")), DCTERMS.title, Literal("Data theme", lang="en"))
        )
        for st in items:
            g.add((c, _MEMBER[st.kind], self.uri(st.kind, st.id)))
        p = URIRef(page.this)
        g.add((p, RDF.type, HYDRA.PagedCollection))
        g.add((p, HYDRA.totalItems, Literal(page.total, datatype=XSD.integer)))
        g.add((p, HYDRA.itemsPerPage, Literal(page.size, datatype=XSD.integer)))
        g.add((p, HYDRA.firstPage, URIRef(page.first)))
        g.add((p, HYDRA.lastPage, URIRef(page.last)))
        if page.next:
            g.add((p, HYDRA.nextPage, URIRef(page.next)))
        if page.previous:
            g.add((p, HYDRA.previousPage, URIRef(page.previous)))


_MEMBER = {
    "dataset": DCAT.dataset,
    "data-service": DCAT.service,
    "dataset-series": DCAT.dataset,
    "catalogue": DCAT.catalog,
    "data-model": DCAT.resource,
    "tool": DCAT.resource,
}
#: the kinds the catalogue document lists, in this order
CATALOGUE_KINDS = ("dataset", "dataset-series", "data-service", "catalogue", "data-model", "tool")


_IRI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,100}$")


def _is_iri(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 2000 and _IRI.match(value) is not None


def _odrl_term(value: Any) -> URIRef | None:
    """An ODRL vocabulary term (``use``, ``lteq``) or an IRI; None for anything else."""
    if isinstance(value, str) and _NAME.match(value):
        return ODRL[value]
    return URIRef(value) if _is_iri(value) else None


def _resource_link(g: Graph, s: URIRef, p: URIRef, url: str) -> None:
    """A link whose object DCAT-AP's range shape wants typed ``rdfs:Resource``."""
    g.add((s, p, URIRef(url)))
    g.add((URIRef(url), RDF.type, RDFS.Resource))


@dataclass(frozen=True, slots=True)
class PageLinks:
    this: str
    first: str
    last: str
    next: str | None
    previous: str | None
    total: int
    size: int


def serialize(g: Graph, media_type: str) -> bytes:
    data = g.serialize(format=SYNTAXES[media_type], encoding="utf-8")
    return data if isinstance(data, bytes) else data.encode()


def turtle_prefix_block(mapper: Mapper) -> bytes:
    lines = [f"@prefix {p}: <{ns}> ." for p, ns in PREFIXES.items()]
    lines.append(f"@prefix mims: <{mapper.ns}> .")
    return ("\n".join(lines) + "\n\n").encode()


def turtle_body(g: Graph) -> bytes:
    """Turtle of ``g`` without its ``@prefix`` lines (the stream declares them once)."""
    text = serialize(g, "text/turtle")
    return b"\n".join(line for line in text.split(b"\n") if not line.startswith(b"@prefix")) + b"\n"


def iter_chunks(items: list[Stored], size: int) -> Iterator[list[Stored]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def label_of(st: Stored) -> str:
    r = st.record
    return first_text(r.get("title")) or str(r.get("name") or r.get("fn") or st.id)
