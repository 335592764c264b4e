"""Pure DCAT-AP logic: the RDF mapping (golden file, SHACL), vocabularies, negotiation,
CKAN query parsing and harvest mapping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic, to_isomorphic

from catalogue.dcat import vocab
from catalogue.dcat.ckan import CkanError, parse_search, parse_sort
from catalogue.dcat.harvest import from_ckan, from_dcat, from_entity_types, local_id
from catalogue.dcat.negotiation import negotiate
from catalogue.dcat.rdf import Bundle, Mapper, Stored
from catalogue.dcat.shacl import violations

GOLDEN = Path(__file__).parent / "golden"
T = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def st(kind: str, rid: str, record: dict[str, object]) -> Stored:
    return Stored(kind, rid, record, T, T)


def parking_bundle() -> Bundle:
    ds = st(
        "dataset",
        "parking",
        {
            "title": {"en": "Parking spots", "nl": "Parkeerplaatsen"},
            "description": {"en": "Live occupancy of on-street parking spots"},
            "keyword": ["parking", "mobility"],
            "theme": ["TRAN"],
            "publisher": "city",
            "contactPoint": ["desk"],
            "accessRights": "PUBLIC",
            "language": ["ENG", "NLD"],
            "conformsTo": ["parkingspot"],
            "frequency": "UPDATE_CONT",
        },
    )
    return Bundle(
        [ds],
        related={
            ("agent", "city"): st("agent", "city", {"name": "City of Example"}),
            ("contact-point", "desk"): st(
                "contact-point", "desk", {"fn": "Open data desk", "email": "desk@example.org"}
            ),
            ("data-model", "parkingspot"): st(
                "data-model", "parkingspot", {"title": {"en": "ParkingSpot"}}
            ),
            ("data-service", "broker"): st(
                "data-service",
                "broker",
                {
                    "title": {"en": "Context broker"},
                    "endpointURL": ["https://city.example.org/ngsi-ld/v1"],
                },
            ),
        },
        children={
            "parking": [
                st(
                    "distribution",
                    "parking-ngsi-ld",
                    {
                        "dataset": "parking",
                        "accessURL": "https://city.example.org/ngsi-ld/v1/entities?type=ParkingSpot",
                        "format": "JSON_LD",
                        "mediaType": "application/ld+json",
                        "license": "CC_BY_4_0",
                        "accessService": ["broker"],
                    },
                )
            ]
        },
        policies={
            "parking": [
                {
                    "@type": "Offer",
                    "uid": "urn:uuid:offer-1",
                    "permission": [{"action": "use", "assignee": "urn:party:vendor"}],
                }
            ]
        },
    )


def test_dataset_graph_matches_the_golden_file_and_conforms() -> None:
    g = Mapper("http://localhost:8080").graph_of(parking_bundle())
    golden = Graph().parse(GOLDEN / "dataset.ttl", format="turtle")
    assert isomorphic(to_isomorphic(g), to_isomorphic(golden)), g.serialize(format="turtle")
    assert violations(g) == []


def test_vocabularies_take_codes_and_official_uris() -> None:
    assert vocab.THEMES.code_of("TRAN") == "TRAN"
    assert (
        vocab.THEMES.code_of("http://publications.europa.eu/resource/authority/data-theme/ENVI")
        == "ENVI"
    )
    assert vocab.THEMES.code_of("http://example.org/data-theme/ENVI") is None
    assert (
        vocab.LICENCES.uri("CC0") == "http://publications.europa.eu/resource/authority/licence/CC0"
    )
    assert len(vocab.THEMES.terms) == 14 and set(vocab.ACCESS_RIGHTS.terms) == {
        "PUBLIC",
        "RESTRICTED",
        "NON_PUBLIC",
    }


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("text/turtle", "text/turtle"),
        ("application/rdf+xml;q=0.9, text/turtle;q=0.5", "application/rdf+xml"),
        ("text/*", "text/turtle"),
        ("*/*;q=0.1, application/ld+json", "application/ld+json"),
        ("image/png", None),
        ("text/turtle;q=0", None),
        ("text/turtle;q=abc, application/json", "application/json"),
    ],
)
def test_negotiation(accept: str | None, expected: str | None) -> None:
    offers = ["application/json", "text/turtle", "application/ld+json", "application/rdf+xml"]
    assert negotiate(accept, offers) == expected


def test_ckan_queries() -> None:
    s = parse_search(
        "parking tags:Mobility",
        '+groups:tran res_format:"json-ld" -organization:x dataset_type:dataset',
    )
    assert s.text == "parking"
    assert s.filters == {"tags": ["mobility"], "groups": ["TRAN"], "res_format": ["JSON_LD"]}
    assert s.exclude == {"organization": ["x"]}
    r = parse_search("*:*", "metadata_modified:[2026-01-01T00:00:00Z TO *]")
    assert (
        r.text is None
        and r.modified_from == datetime(2026, 1, 1, tzinfo=UTC)
        and r.modified_to is None
    )
    assert parse_sort(None) == [("score", True), ("modified", True)]
    assert parse_sort("title_string asc, name desc") == [("title_sort", False), ("id", True)]
    for bad in ("score; drop", "evil asc", "name sideways"):
        with pytest.raises(CkanError):
            parse_sort(bad)
    with pytest.raises(CkanError):
        parse_search(None, "password:x")
    with pytest.raises(CkanError):
        parse_search(None, "groups:tran OR (")


def test_broker_types_map_to_datasets() -> None:
    found = from_entity_types(
        "broker",
        [
            {
                "id": "https://uri.fiware.org/ns/data-models#ParkingSpot",
                "type": "EntityType",
                "typeName": "ParkingSpot",
                "attributeNames": ["status"],
            }
        ],
        broker_public_url="https://city.example.org/",
        tenant="",
        models={"ParkingSpot": ["parkingspot"]},
    )
    assert len(found) == 1
    ds, dist = found[0].dataset, found[0].distributions[0]
    assert ds.record["title"] == {"en": "ParkingSpot entities"} and ds.record["conformsTo"] == [
        "parkingspot"
    ]
    assert (
        dist.record["accessURL"] == "https://city.example.org/ngsi-ld/v1/entities?type=ParkingSpot"
    )
    assert dist.record["conformsTo"] == [vocab.NGSI_LD_STANDARD]
    [service] = found[0].related
    assert dist.record["accessService"] == [service.id] and service.kind == "data-service"
    assert service.record["endpointURL"] == ["https://city.example.org/ngsi-ld/v1"]
    assert service.record["servesDataset"] == [ds.id]


def test_dcat_documents_map_to_records() -> None:
    g = Graph().parse(GOLDEN / "remote.ttl", format="turtle")
    found = from_dcat("src", g)
    assert [h.dataset.id for h in found] == [
        local_id("src", "https://remote.example.org/dataset/air")
    ]
    item = found[0]
    assert item.dataset.record["title"] == {"en": "Air quality", "fr": "Qualité de l'air"}
    assert item.dataset.record["theme"] == ["ENVI"]
    assert item.agent is not None and item.agent.record == {"name": "Remote city"}
    assert [d.record.get("format") for d in item.distributions] == ["CSV"]
    assert item.notes == [
        "theme http://example.org/my-theme is not in the EU data theme vocabulary: left out"
    ]


def test_ckan_packages_map_to_records() -> None:
    found = from_ckan(
        "c",
        [
            {
                "id": "p1",
                "title": "Trees",
                "notes": "Every tree",
                "tags": [{"name": "trees"}],
                "groups": [{"name": "envi"}],
                "license_id": "CC_BY_4_0",
                "organization": {"id": "o1", "title": "Parks"},
                "resources": [
                    {"id": "r1", "url": "https://x.org/trees.csv", "format": "csv", "name": "CSV"}
                ],
            },
            "not a package",
        ],
    )
    assert len(found) == 1
    assert found[0].dataset.record["keyword"] == ["trees"] and found[0].dataset.record["theme"] == [
        "ENVI"
    ]
    assert found[0].distributions[0].record["format"] == "CSV"
    assert found[0].distributions[0].record["license"] == "CC_BY_4_0"
