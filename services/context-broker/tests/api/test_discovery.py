"""Context discovery over HTTP (ETSI GS CIM 009 V1.8.1, 5.7.5 to 5.7.10; 6.25 to 6.28).

Each test works in a tenant of its own, so that it can assert whole bodies.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
CORE = "https://uri.etsi.org/ngsi-ld/"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM = "https://smartdatamodels.org/dataModel.Parking/"


def new_tenant() -> str:
    return f"disc{uuid.uuid4().hex[:16]}"


def spot(n: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:{n}",
        "type": "ParkingSpot",
        "status": [
            {"type": "Property", "value": "free"},
            {"type": "Property", "value": "free", "datasetId": "urn:ngsi-ld:Dataset:camera"},
        ],
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4, 50]}},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:OffStreetParking:1"},
    }


SITE = {
    "id": "urn:ngsi-ld:OffStreetParking:1",
    "type": ["OffStreetParking", "ParkingSite"],
    "status": {"type": "Relationship", "object": "urn:ngsi-ld:Status:open"},
    "name": {"type": "Property", "value": "Central"},
}


async def populate(client: httpx.AsyncClient, tenant: str) -> None:
    for body in (spot(1), spot(2), SITE):
        resp = await client.post(
            "/ngsi-ld/v1/entities", json=body, headers={"NGSILD-Tenant": tenant}
        )
        assert resp.status_code == 201, resp.text


async def get(client: httpx.AsyncClient, path: str, tenant: str, **params: str) -> httpx.Response:
    return await client.get(f"/ngsi-ld/v1/{path}", params=params, headers={"NGSILD-Tenant": tenant})


async def test_entity_type_list_names_the_types_in_the_core_context(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "types", tenant)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert CORE_CONTEXT in resp.headers["link"]
    body = resp.json()
    assert body.pop("id").startswith("urn:ngsi-ld:EntityTypeList:")
    assert body == {
        "type": "EntityTypeList",
        "typeList": ["OffStreetParking", "ParkingSite", "ParkingSpot"],
    }


async def test_entity_type_list_ids_are_unique(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    first = (await get(client, "types", tenant)).json()
    second = (await get(client, "types", tenant)).json()
    assert first["id"] != second["id"]
    assert first["typeList"] == []


async def test_details_of_entity_types(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "types", tenant, details="true")
    assert resp.status_code == 200
    site_attrs = ["name", "status"]
    assert resp.json() == [
        {
            "id": f"{DEFAULT}OffStreetParking",
            "type": "EntityType",
            "typeName": "OffStreetParking",
            "attributeNames": site_attrs,
        },
        {
            "id": f"{DEFAULT}ParkingSite",
            "type": "EntityType",
            "typeName": "ParkingSite",
            "attributeNames": site_attrs,
        },
        {
            "id": f"{DEFAULT}ParkingSpot",
            "type": "EntityType",
            "typeName": "ParkingSpot",
            "attributeNames": ["location", "refParkingSite", "status"],
        },
    ]


@pytest.mark.parametrize("name", ["ParkingSpot", quote(f"{DEFAULT}ParkingSpot", safe="")])
async def test_entity_type_information_by_short_name_or_iri(
    client: httpx.AsyncClient, name: str
) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, f"types/{name}", tenant)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "id": f"{DEFAULT}ParkingSpot",
        "type": "EntityTypeInfo",
        "typeName": "ParkingSpot",
        "entityCount": 2,
        "attributeDetails": [
            {
                "id": f"{CORE}location",
                "type": "Attribute",
                "attributeName": "location",
                "attributeTypes": ["GeoProperty"],
            },
            {
                "id": f"{DEFAULT}refParkingSite",
                "type": "Attribute",
                "attributeName": "refParkingSite",
                "attributeTypes": ["Relationship"],
            },
            {
                "id": f"{CORE}status",
                "type": "Attribute",
                "attributeName": "status",
                "attributeTypes": ["Property"],
            },
        ],
    }


async def test_entity_type_without_attributes_has_a_count(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    created = await client.post(
        "/ngsi-ld/v1/entities",
        json={"id": "urn:ngsi-ld:Bare:1", "type": "Bare"},
        headers={"NGSILD-Tenant": tenant},
    )
    assert created.status_code == 201
    resp = await get(client, "types/Bare", tenant)
    assert resp.json() == {
        "id": f"{DEFAULT}Bare",
        "type": "EntityTypeInfo",
        "typeName": "Bare",
        "entityCount": 1,
        "attributeDetails": [],
    }
    details = await get(client, "types", tenant, details="true")
    assert details.json()[0]["attributeNames"] == []


async def test_unknown_entity_type_is_resource_not_found(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "types/Bicycle", tenant)
    assert resp.status_code == 404
    assert resp.json() == {
        "type": f"{ERR}ResourceNotFound",
        "title": "Resource not found",
        "status": 404,
        "detail": "Entity type Bicycle does not exist: no entity has it",
        "instance": "/ngsi-ld/v1/types/Bicycle",
    }


async def test_attribute_list(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "attributes", tenant)
    assert resp.status_code == 200
    body = resp.json()
    assert body.pop("id").startswith("urn:ngsi-ld:AttributeList:")
    assert body == {
        "type": "AttributeList",
        "attributeList": ["location", "name", "refParkingSite", "status"],
    }


async def test_details_of_attributes(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "attributes", tenant, details="true")
    assert resp.status_code == 200
    assert resp.json() == [
        {
            "id": f"{CORE}location",
            "type": "Attribute",
            "attributeName": "location",
            "typeNames": ["ParkingSpot"],
        },
        {
            "id": f"{DEFAULT}name",
            "type": "Attribute",
            "attributeName": "name",
            "typeNames": ["OffStreetParking", "ParkingSite"],
        },
        {
            "id": f"{DEFAULT}refParkingSite",
            "type": "Attribute",
            "attributeName": "refParkingSite",
            "typeNames": ["ParkingSpot"],
        },
        {
            "id": f"{CORE}status",
            "type": "Attribute",
            "attributeName": "status",
            "typeNames": ["OffStreetParking", "ParkingSite", "ParkingSpot"],
        },
    ]


async def test_attribute_information_counts_every_instance(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "attributes/status", tenant)
    assert resp.status_code == 200
    # Two spots with two instances each (a multi-attribute) and the site's relationship.
    assert resp.json() == {
        "id": f"{CORE}status",
        "type": "Attribute",
        "attributeName": "status",
        "attributeCount": 5,
        "attributeTypes": ["Property", "Relationship"],
        "typeNames": ["OffStreetParking", "ParkingSite", "ParkingSpot"],
    }


@pytest.mark.parametrize("name", ["id", "type", "createdAt", "scope", "width"])
async def test_entity_members_and_absent_attributes_are_not_found(
    client: httpx.AsyncClient, name: str
) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, f"attributes/{name}", tenant)
    assert resp.status_code == 404
    assert resp.json()["type"] == f"{ERR}ResourceNotFound"
    listed = (await get(client, "attributes", tenant)).json()["attributeList"]
    assert name not in listed


async def test_names_are_compacted_with_the_request_context(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    context = {"sdm": SDM, "ParkingSpot": "sdm:ParkingSpot", "width": "sdm:width"}
    body = {
        "id": "urn:ngsi-ld:ParkingSpot:ld",
        "type": "ParkingSpot",
        "width": {"type": "Property", "value": 2.5},
        "@context": context,
    }
    created = await client.post(
        "/ngsi-ld/v1/entities",
        content=orjson.dumps(body),
        headers={"Content-Type": "application/ld+json", "NGSILD-Tenant": tenant},
    )
    assert created.status_code == 201, created.text
    # Read back in the core context only, the user's names are full IRIs.
    types = (await get(client, "types", tenant)).json()["typeList"]
    assert types == [f"{SDM}ParkingSpot"]
    attribute = await get(client, f"attributes/{quote(SDM + 'width', safe='')}", tenant)
    assert attribute.json()["attributeName"] == f"{SDM}width"
    assert attribute.json()["typeNames"] == [f"{SDM}ParkingSpot"]


async def test_ld_json_carries_the_context_in_the_body(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    accept = {"NGSILD-Tenant": tenant, "Accept": "application/ld+json"}
    listed = await client.get("/ngsi-ld/v1/types", headers=accept)
    assert listed.headers["content-type"] == "application/ld+json"
    assert "link" not in listed.headers
    assert listed.json()["@context"] == CORE_CONTEXT
    details = await client.get("/ngsi-ld/v1/attributes?details=true", headers=accept)
    assert all(item["@context"] == CORE_CONTEXT for item in details.json())
    info = await client.get("/ngsi-ld/v1/attributes/name", headers=accept)
    assert info.json()["@context"] == CORE_CONTEXT


async def test_tenants_see_only_their_own_types(client: httpx.AsyncClient) -> None:
    tenant, other = new_tenant(), new_tenant()
    await populate(client, tenant)
    assert (await get(client, "types", other)).json()["typeList"] == []
    assert (await get(client, "attributes", other)).json()["attributeList"] == []
    assert (await get(client, "types/ParkingSpot", other)).status_code == 404
    assert (await get(client, "attributes/status", other)).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "error"),
    [
        ("types", {"details": "yes"}, "BadRequestData"),
        ("attributes", {"local": "maybe"}, "BadRequestData"),
        ("attributes", {"limit": "5"}, "InvalidRequest"),
        ("types/ParkingSpot", {"details": "true"}, "InvalidRequest"),
        ("types/Parking Spot", {}, "BadRequestData"),
        ("attributes/a(b)", {}, "BadRequestData"),
    ],
)
async def test_invalid_requests(
    client: httpx.AsyncClient, path: str, params: dict[str, str], error: str
) -> None:
    resp = await get(client, path, new_tenant(), **params)
    assert resp.status_code == 400
    assert resp.json()["type"] == f"{ERR}{error}"


async def test_local_is_accepted_and_changes_nothing(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    await populate(client, tenant)
    resp = await get(client, "types", tenant, local="true")
    assert resp.json()["typeList"] == ["OffStreetParking", "ParkingSite", "ParkingSpot"]


@pytest.mark.parametrize("accept", ["text/csv", "application/geo+json"])
async def test_unacceptable_media_type(client: httpx.AsyncClient, accept: str) -> None:
    resp = await client.get("/ngsi-ld/v1/types", headers={"Accept": accept})
    assert resp.status_code == 406
    assert resp.json()["type"] == f"{ERR}InvalidRequest"


async def test_geojson_is_passed_over_for_json(client: httpx.AsyncClient) -> None:
    accept = "application/geo+json, application/ld+json;q=0.5"
    resp = await client.get("/ngsi-ld/v1/attributes", headers={"Accept": accept})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/ld+json"
