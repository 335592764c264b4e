"""The JSON form of every kind of record, and what the catalogue indexes of it.

Names follow DCAT-AP 3.0.1 (``title``, ``accessURL``, ``conformsTo``...). Values from a
controlled vocabulary are written as the code or the official URI and stored as the code.
References to other records are their local identifiers. The cardinalities DCAT-AP sets
(a Dataset's title and description, a Distribution's accessURL, ...) are checked by the
official SHACL shapes on the record's RDF (see :mod:`catalogue.dcat.shacl`), so that the
error names the DCAT-AP rule; the models here check types, vocabularies and references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from catalogue.dcat import vocab

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
LocalId = Annotated[str, Field(pattern=ID_PATTERN)]
#: An http(s) URL in the characters RFC 3986 allows (non-ASCII must be percent-encoded).
URL_PATTERN = r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$"
Url = Annotated[str, Field(pattern=URL_PATTERN, max_length=2000)]
#: A URI, or the identifier of a data model of this catalogue.
StandardRef = Annotated[
    str,
    Field(
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,127}|[a-z][a-z0-9+.-]*:[^\s<>\"{}|\\^`]+)$",
        max_length=2000,
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=10_000)]
LangTag = Annotated[str, Field(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$")]
LangString = dict[LangTag, Text]
Keyword = Annotated[str, Field(min_length=1, max_length=200)]


def _coded(v: vocab.Vocabulary) -> Callable[[str], str]:
    def check(value: str) -> str:
        code = v.code_of(value)
        if code is None:
            raise ValueError(
                f"{value[:200]!r} is not a term of the EU {v.name} vocabulary ({v.base})"
            )
        return code

    return check


def _mim(value: str) -> str:
    if value not in vocab.MIMS:
        raise ValueError(f"{value[:50]!r} is not a MIM (one of {', '.join(vocab.MIMS)})")
    return value


def _media_type(value: str) -> str:
    base = value.removeprefix(vocab.IANA_MEDIA)
    parts = base.split("/")
    ok = len(parts) == 2 and all(
        p and all(c.isalnum() or c in "!#$&-^_.+" for c in p) for p in parts
    )
    if not ok:
        raise ValueError(f"{value[:200]!r} is not an IANA media type such as text/csv")
    return base.lower()


Theme = Annotated[str, AfterValidator(_coded(vocab.THEMES))]
FileType = Annotated[str, AfterValidator(_coded(vocab.FILE_TYPES))]
Licence = Annotated[str, AfterValidator(_coded(vocab.LICENCES))]
Language = Annotated[str, AfterValidator(_coded(vocab.LANGUAGES))]
AccessRights = Annotated[str, AfterValidator(_coded(vocab.ACCESS_RIGHTS))]
Frequency = Annotated[str, AfterValidator(_coded(vocab.FREQUENCIES))]
Mim = Annotated[str, AfterValidator(_mim)]
MediaType = Annotated[str, Field(max_length=200), AfterValidator(_media_type)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: LocalId | None = Field(
        default=None, description="Local identifier; generated when absent"
    )


class _Described(_Record):
    title: LangString | None = Field(default=None, min_length=1)
    description: LangString | None = Field(default=None, min_length=1)


class _Resource(_Described):
    keyword: list[Keyword] = Field(default_factory=list, max_length=100)
    theme: list[Theme] = Field(default_factory=list, max_length=20)
    publisher: LocalId | None = None
    contactPoint: list[LocalId] = Field(default_factory=list, max_length=10)
    accessRights: AccessRights | None = None
    conformsTo: list[StandardRef] = Field(default_factory=list, max_length=20)
    language: list[Language] = Field(default_factory=list, max_length=30)
    landingPage: Url | None = None


class DatasetIn(_Resource):
    """dcat:Dataset (DCAT-AP 3.0.1, 6.6)."""

    frequency: Frequency | None = None
    inSeries: list[LocalId] = Field(default_factory=list, max_length=10)
    version: Annotated[str, Field(max_length=100)] | None = None


class DistributionIn(_Described):
    """dcat:Distribution (DCAT-AP 3.0.1, 6.8); ``dataset`` is the dataset it belongs to."""

    dataset: LocalId
    accessURL: Url | None = None
    downloadURL: Url | None = None
    format: FileType | None = None
    mediaType: MediaType | None = None
    license: Licence | None = None
    accessService: list[LocalId] = Field(default_factory=list, max_length=10)
    conformsTo: list[StandardRef] = Field(default_factory=list, max_length=20)
    byteSize: Annotated[int, Field(ge=0)] | None = None
    language: list[Language] = Field(default_factory=list, max_length=30)


class DataServiceIn(_Resource):
    """dcat:DataService (DCAT-AP 3.0.1, 6.5)."""

    endpointURL: list[Url] = Field(default_factory=list, max_length=10)
    endpointDescription: list[Url] = Field(default_factory=list, max_length=10)
    servesDataset: list[LocalId] = Field(default_factory=list, max_length=1000)
    license: Licence | None = None


class DatasetSeriesIn(_Resource):
    """dcat:DatasetSeries (DCAT-AP 3.0.1, 6.7)."""

    frequency: Frequency | None = None


class CatalogueIn(_Described):
    """dcat:Catalog (DCAT-AP 3.0.1, 6.3): a catalogue that is part of the city's catalogue."""

    publisher: LocalId | None = None
    homepage: Url | None = None
    language: list[Language] = Field(default_factory=list, max_length=30)
    license: Licence | None = None
    dataset: list[LocalId] = Field(default_factory=list, max_length=1000)
    service: list[LocalId] = Field(default_factory=list, max_length=1000)


class AgentIn(_Record):
    """foaf:Agent (DCAT-AP 3.0.1, 6.2): a publisher, a provider of a tool."""

    name: Annotated[str, Field(max_length=500)] | None = None
    email: (
        Annotated[str, Field(pattern=r"^[^@\s<>\"{}|\\^`]+@[^@\s<>\"{}|\\^`]+$", max_length=300)]
        | None
    ) = None
    homepage: Url | None = None


class ContactPointIn(_Record):
    """vcard:Kind (DCAT-AP 3.0.1, 6.20): who to contact about a resource."""

    fn: Annotated[str, Field(min_length=1, max_length=500)]
    email: (
        Annotated[str, Field(pattern=r"^[^@\s<>\"{}|\\^`]+@[^@\s<>\"{}|\\^`]+$", max_length=300)]
        | None
    ) = None
    url: Url | None = None


class DataModelIn(_Record):
    """A MIM2 data model (a dct:Standard datasets point to with dct:conformsTo): its
    JSON Schema, its JSON-LD @context, and the entity types it defines."""

    title: LangString = Field(min_length=1)
    description: LangString | None = Field(default=None, min_length=1)
    version: Annotated[str, Field(min_length=1, max_length=100)]
    schema_: Url = Field(alias="schema")
    context: Url
    entityTypes: list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_:/#.-]{0,255}$")]] = Field(
        min_length=1, max_length=100
    )
    publisher: LocalId | None = None
    documentation: Url | None = None
    keyword: list[Keyword] = Field(default_factory=list, max_length=100)
    theme: list[Theme] = Field(default_factory=list, max_length=20)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ToolIn(_Record):
    """A digital tool or solution of the city's curated catalogue: what it does, the MIMs
    and data models it conforms to, who provides it, its API, where it is deployed."""

    title: LangString = Field(min_length=1)
    description: LangString = Field(min_length=1)
    provider: LocalId | None = None
    mims: list[Mim] = Field(default_factory=list, max_length=10)
    conformsTo: list[StandardRef] = Field(default_factory=list, max_length=50)
    apiDescription: Url | None = None
    deployedAt: list[Url] = Field(default_factory=list, max_length=50)
    homepage: Url | None = None
    keyword: list[Keyword] = Field(default_factory=list, max_length=100)
    theme: list[Theme] = Field(default_factory=list, max_length=20)
    license: Licence | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of record: how it is named, written and linked."""

    name: str
    plural: str
    label: str
    model: type[BaseModel]
    #: JSON field -> kind of the record it names (local identifiers)
    refs: dict[str, str] = field(default_factory=dict)
    #: the field naming the record this one belongs to (a distribution's dataset)
    parent: str | None = None
    #: validated against the DCAT-AP shapes
    dcat: bool = True


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind(
            "dataset",
            "datasets",
            "Dataset",
            DatasetIn,
            {
                "publisher": "agent",
                "contactPoint": "contact-point",
                "inSeries": "dataset-series",
                "conformsTo": "data-model",
            },
        ),
        Kind(
            "distribution",
            "distributions",
            "Distribution",
            DistributionIn,
            {"dataset": "dataset", "accessService": "data-service", "conformsTo": "data-model"},
            parent="dataset",
        ),
        Kind(
            "data-service",
            "data-services",
            "Data service",
            DataServiceIn,
            {
                "publisher": "agent",
                "contactPoint": "contact-point",
                "servesDataset": "dataset",
                "conformsTo": "data-model",
            },
        ),
        Kind(
            "dataset-series",
            "dataset-series",
            "Dataset series",
            DatasetSeriesIn,
            {"publisher": "agent", "contactPoint": "contact-point", "conformsTo": "data-model"},
        ),
        Kind(
            "catalogue",
            "catalogues",
            "Catalogue",
            CatalogueIn,
            {"publisher": "agent", "dataset": "dataset", "service": "data-service"},
        ),
        Kind("agent", "agents", "Agent", AgentIn),
        Kind("contact-point", "contact-points", "Contact point", ContactPointIn),
        Kind(
            "data-model",
            "data-models",
            "Data model",
            DataModelIn,
            {"publisher": "agent"},
            dcat=False,
        ),
        Kind(
            "tool",
            "tools",
            "Tool",
            ToolIn,
            {"provider": "agent", "conformsTo": "data-model"},
            dcat=False,
        ),
    ]
}
BY_PLURAL = {k.plural: k for k in KINDS.values()}


def is_uri(value: str) -> bool:
    return ":" in value


def references(kind: Kind, record: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(kind, id)]`` of the records ``record`` names (URIs in conformsTo are not records)."""
    out: list[tuple[str, str]] = []
    for fname, target in kind.refs.items():
        value = record.get(fname)
        values = value if isinstance(value, list) else [value] if value else []
        out.extend((target, v) for v in values if isinstance(v, str) and not is_uri(v))
    return out


def ref_keys(kind: Kind, record: dict[str, Any]) -> list[str]:
    return sorted({f"{k}/{i}" for k, i in references(kind, record)})


def first_text(value: Any) -> str:
    """The first text of a language map (English preferred), or ``""``."""
    if isinstance(value, dict) and value:
        text = value.get("en") or next(iter(value.values()))
        return str(text)
    if isinstance(value, str):
        return value
    return ""


@dataclass(frozen=True, slots=True)
class IndexColumns:
    """What search and facets read of a dataset, kept in columns beside the record."""

    themes: list[str]
    orgs: list[str]
    formats: list[str]
    licences: list[str]
    tags: list[str]
    models: list[str]
    title_sort: str


def index_columns(
    kind: Kind, record: dict[str, Any], children: list[dict[str, Any]]
) -> IndexColumns:
    """Facet values of a record (for a dataset, with those of its distributions)."""
    formats = sorted({c["format"] for c in children if c.get("format")})
    licences = sorted({c["license"] for c in children if c.get("license")})
    if record.get("license"):
        licences = sorted({*licences, record["license"]})
    org = record.get("publisher") or record.get("provider")
    models = sorted(
        {*record.get("conformsTo", []), *(m for c in children for m in c.get("conformsTo", []))}
    )
    return IndexColumns(
        themes=sorted(set(record.get("theme", []))),
        orgs=[org] if org else [],
        formats=formats,
        licences=licences,
        tags=sorted({k.lower() for k in record.get("keyword", [])}),
        models=models,
        title_sort=(
            first_text(record.get("title"))
            or first_text(record.get("name"))
            or first_text(record.get("fn"))
        ).lower()[:200],
    )
