"""Linked Entity Retrieval over HTTP (ETSI GS CIM 009 V1.8.1, 4.5.23; join and joinLevel of
Retrieve Entity 5.7.1 and Query Entities 5.7.2)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
URL = "/ngsi-ld/v1/entities"


def rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    resp = await client.post(URL, json=body)
    assert resp.status_code == 201, resp.text


def unique_ids(*kinds: str) -> tuple[str, ...]:
    """One new entity id per ``kinds`` entry ("Type" or "Type:prefix"), sharing one tag."""
    tag = uuid.uuid4().hex
    return tuple(f"urn:ngsi-ld:{k}{tag}" if ":" in k else f"urn:ngsi-ld:{k}:{tag}" for k in kinds)


async def world(client: httpx.AsyncClient) -> tuple[str, str, str]:
    """A building located in a city, itself in a country (unique ids)."""
    building, city, country = unique_ids("Building", "City", "Country")
    await create(client, {"id": country, "type": "Country", "name": prop("France")})
    await create(
        client,
        {"id": city, "type": "City", "name": prop("Paris"), "isInCountry": rel(country)},
    )
    await create(client, {"id": building, "type": "Building", "locatedAt": rel(city)})
    return building, city, country


async def get(client: httpx.AsyncClient, eid: str, **params: str) -> Any:
    resp = await client.get(f"{URL}/{eid}", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_inline_one_level_embeds_the_target(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    assert await get(client, building, join="inline") == {
        "id": building,
        "type": "Building",
        "locatedAt": {
            "type": "Relationship",
            "object": city,
            "entity": {
                "id": city,
                "type": "City",
                "name": prop("Paris"),
                "isInCountry": rel(country),
            },
        },
    }


async def test_inline_two_levels(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    assert await get(client, building, join="inline", joinLevel="2") == {
        "id": building,
        "type": "Building",
        "locatedAt": {
            **rel(city),
            "entity": {
                "id": city,
                "type": "City",
                "name": prop("Paris"),
                "isInCountry": {
                    **rel(country),
                    "entity": {"id": country, "type": "Country", "name": prop("France")},
                },
            },
        },
    }


async def test_flat_two_levels_returns_an_array(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    assert await get(client, building, join="flat", joinLevel="2") == [
        {"id": building, "type": "Building", "locatedAt": rel(city)},
        {"id": city, "type": "City", "name": prop("Paris"), "isInCountry": rel(country)},
        {"id": country, "type": "Country", "name": prop("France")},
    ]
    # One level stops at the city.
    assert [e["id"] for e in await get(client, building, join="flat")] == [building, city]


async def test_key_values_inline_replaces_the_relationship(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    got = await get(client, building, join="inline", joinLevel="2", options="keyValues")
    assert got == {
        "id": building,
        "type": "Building",
        "locatedAt": {
            "id": city,
            "type": "City",
            "name": "Paris",
            "isInCountry": {"id": country, "type": "Country", "name": "France"},
        },
    }
    assert await get(client, building, join="flat", options="keyValues") == [
        {"id": building, "type": "Building", "locatedAt": city},
        {"id": city, "type": "City", "name": "Paris", "isInCountry": country},
    ]


async def test_sys_attrs_reach_the_linked_entity(client: httpx.AsyncClient) -> None:
    building, _, _ = await world(client)
    got = await get(client, building, join="inline", options="sysAttrs")
    assert "createdAt" in got["locatedAt"]["entity"]


async def test_pick_projects_the_linked_entities(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    pick = "id,locatedAt{id,name}"
    assert await get(client, building, join="inline", joinLevel="2", pick=pick) == {
        "id": building,
        "locatedAt": {**rel(city), "entity": {"id": city, "name": prop("Paris")}},
    }
    # isInCountry is not picked, so it is not followed.
    assert await get(client, building, join="flat", joinLevel="2", pick=pick) == [
        {"id": building, "locatedAt": rel(city)},
        {"id": city, "name": prop("Paris")},
    ]
    deep = "id,locatedAt{id,isInCountry{name}}"
    assert await get(client, building, join="flat", joinLevel="2", pick=deep) == [
        {"id": building, "locatedAt": rel(city)},
        {"id": city, "isInCountry": rel(country)},
        {"name": prop("France")},
    ]


async def test_omit_with_braces_keeps_the_relationship(client: httpx.AsyncClient) -> None:
    building, city, country = await world(client)
    got = await get(client, building, join="inline", joinLevel="2", omit="type,locatedAt{name}")
    assert got == {
        "id": building,
        "locatedAt": {
            **rel(city),
            "entity": {
                "id": city,
                "type": "City",
                "isInCountry": {
                    **rel(country),
                    "entity": {"id": country, "type": "Country", "name": prop("France")},
                },
            },
        },
    }


async def test_dangling_relationship_gets_no_entity(client: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex
    building, missing = f"urn:ngsi-ld:Building:{tag}", f"urn:ngsi-ld:City:{tag}"
    await create(client, {"id": building, "type": "Building", "locatedAt": rel(missing)})
    expected = {"id": building, "type": "Building", "locatedAt": rel(missing)}
    assert await get(client, building, join="inline") == expected
    assert await get(client, building, join="flat") == [expected]
    assert await get(client, building, join="inline", options="keyValues") == {
        "id": building,
        "type": "Building",
        "locatedAt": missing,
    }


async def test_none_is_no_join(client: httpx.AsyncClient) -> None:
    building, city, _ = await world(client)
    assert await get(client, building, join="@none") == {
        "id": building,
        "type": "Building",
        "locatedAt": rel(city),
    }


async def test_list_relationship_gets_an_entity_list(client: httpx.AsyncClient) -> None:
    building, city, _ = await world(client)
    tag = uuid.uuid4().hex
    tour = f"urn:ngsi-ld:Tour:{tag}"
    gone = f"urn:ngsi-ld:City:gone-{tag}"
    stops = {"type": "ListRelationship", "objectList": [city, gone, building]}
    await create(client, {"id": tour, "type": "Tour", "stops": stops})
    got = await get(client, tour, join="inline", pick="stops{id}")
    assert got == {"stops": {**stops, "entityList": [{"id": city}, {"id": building}]}}


@pytest.mark.parametrize(
    "params",
    [
        {"join": "sideways"},
        {"join": "inline", "joinLevel": "0"},
        {"join": "inline", "joinLevel": "-1"},
        {"join": "flat", "joinLevel": "two"},
        {"join": "flat", "joinLevel": "99"},
    ],
)
async def test_bad_join_or_join_level_is_rejected(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    building, _, _ = await world(client)
    for resp in (
        await client.get(f"{URL}/{building}", params=params),
        await client.get(URL, params={"type": "Building", **params}),
    ):
        assert resp.status_code == 400, resp.text
        assert resp.json()["type"] == ERR + "BadRequestData"


async def test_query_inline_and_flat(client: httpx.AsyncClient) -> None:
    first, city, country = await world(client)
    tag = uuid.uuid4().hex
    second = f"urn:ngsi-ld:Building:{tag}"
    await create(client, {"id": second, "type": "Building", "locatedAt": rel(city)})
    query = {"type": "Building", "id": f"{first},{second}"}

    resp = await client.get(URL, params={**query, "join": "inline", "options": "keyValues"})
    assert resp.status_code == 200, resp.text
    linked = {"id": city, "type": "City", "name": "Paris", "isInCountry": country}
    assert sorted(resp.json(), key=lambda e: e["id"]) == sorted(
        [
            {"id": first, "type": "Building", "locatedAt": linked},
            {"id": second, "type": "Building", "locatedAt": linked},
        ],
        key=lambda e: e["id"],
    )

    resp = await client.get(URL, params={**query, "join": "flat", "joinLevel": "2"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    # The matches first, then each linked entity once, level by level.
    assert sorted(e["id"] for e in body[:2]) == sorted([first, second])
    assert body[2:] == [
        {"id": city, "type": "City", "name": prop("Paris"), "isInCountry": rel(country)},
        {"id": country, "type": "Country", "name": prop("France")},
    ]


async def test_query_via_post_takes_join_from_the_body(client: httpx.AsyncClient) -> None:
    building, city, _ = await world(client)
    body = {"type": "Query", "entities": [{"id": building, "type": "Building"}], "join": "flat"}
    resp = await client.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert resp.status_code == 200, resp.text
    assert [e["id"] for e in resp.json()] == [building, city]
    body["joinLevel"] = "x"
    resp = await client.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert resp.status_code == 400


async def test_inline_simplified_multi_relationship_embeds_each_dataset(
    client: httpx.AsyncClient,
) -> None:
    """keyValues of a multi-attribute is a dataset map (4.5.4); the join replaces each
    target id in it by the entity, and flat finds the targets of every instance."""
    building, paris, lyon = unique_ids("Building", "City:p", "City:l")
    await create(client, {"id": paris, "type": "City", "name": prop("Paris")})
    await create(client, {"id": lyon, "type": "City", "name": prop("Lyon")})
    located = [rel(paris), {**rel(lyon), "datasetId": "urn:ngsi-ld:Dataset:second"}]
    await create(client, {"id": building, "type": "Building", "locatedAt": located})
    assert await get(client, building, join="inline", options="keyValues") == {
        "id": building,
        "type": "Building",
        "locatedAt": {
            "dataset": {
                "@none": {"id": paris, "type": "City", "name": "Paris"},
                "urn:ngsi-ld:Dataset:second": {"id": lyon, "type": "City", "name": "Lyon"},
            }
        },
    }
    flat = await get(client, building, join="flat", options="keyValues")
    assert [e["id"] for e in flat] == [building, paris, lyon]
