"""A small city catalogue written through the API, shared by the tests."""

from __future__ import annotations

import uuid

import httpx
from rdflib import Graph

from catalogue.dcat.shacl import violations

PROBLEM = "application/problem+json"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def post(
    client: httpx.AsyncClient, plural: str, body: dict[str, object]
) -> dict[str, object]:
    resp = await client.post(f"/catalogue/v1/{plural}", json=body)
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


async def city(client: httpx.AsyncClient, words: str = "parking") -> dict[str, str]:
    """An agent, a contact point, a data model, a data service, a dataset with a distribution."""
    ids = {k: uid(k) for k in ("agent", "cp", "model", "svc", "ds", "dist")}
    await post(
        client,
        "agents",
        {"identifier": ids["agent"], "name": "City of Example", "email": "data@example.org"},
    )
    await post(
        client,
        "contact-points",
        {"identifier": ids["cp"], "fn": "Open data desk", "email": "desk@example.org"},
    )
    await post(
        client,
        "data-models",
        {
            "identifier": ids["model"],
            "title": {"en": "ParkingSpot"},
            "version": "0.1.2",
            "schema": "https://smart-data-models.github.io/dataModel.Parking/ParkingSpot/schema.json",
            "context": "https://smart-data-models.github.io/dataModel.Parking/context.jsonld",
            "entityTypes": ["ParkingSpot"],
        },
    )
    await post(
        client,
        "data-services",
        {
            "identifier": ids["svc"],
            "title": {"en": "Context broker"},
            "endpointURL": ["https://city.example.org/ngsi-ld/v1"],
            "publisher": ids["agent"],
        },
    )
    await post(
        client,
        "datasets",
        {
            "identifier": ids["ds"],
            "title": {"en": f"{words.capitalize()} spots", "nl": "Parkeerplaatsen"},
            "description": {"en": f"Live occupancy of on-street {words} spots"},
            "keyword": [words, "mobility"],
            "theme": ["TRAN", "http://publications.europa.eu/resource/authority/data-theme/REGI"],
            "publisher": ids["agent"],
            "contactPoint": [ids["cp"]],
            "accessRights": "PUBLIC",
            "language": ["ENG", "NLD"],
            "conformsTo": [ids["model"]],
        },
    )
    await post(
        client,
        "distributions",
        {
            "identifier": ids["dist"],
            "dataset": ids["ds"],
            "title": {"en": "NGSI-LD query"},
            "accessURL": "https://city.example.org/ngsi-ld/v1/entities?type=ParkingSpot",
            "format": "JSON_LD",
            "mediaType": "application/ld+json",
            "license": "CC_BY_4_0",
            "accessService": [ids["svc"]],
        },
    )
    return ids


def conforms(turtle: bytes) -> list[dict[str, object]]:
    g = Graph()
    g.parse(data=turtle, format="turtle")
    return violations(g)
