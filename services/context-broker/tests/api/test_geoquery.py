"""Geo-queries of Query Entities over HTTP (ETSI GS CIM 009 V1.8.1, 4.10 and 5.7.2)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
ENTITIES = "/ngsi-ld/v1/entities"


def new_type() -> str:
    """A type of its own per test: the database is shared by every test module."""
    return f"GeoThing{uuid.uuid4().hex[:12]}"


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def square(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


async def create(
    client: httpx.AsyncClient, etype: str, n: int, geometry: dict[str, Any], **attrs: Any
) -> str:
    eid = f"urn:ngsi-ld:{etype}:{n:04d}"
    body = {"id": eid, "type": etype, "location": {"type": "GeoProperty", "value": geometry}}
    resp = await client.post(ENTITIES, json={**body, **attrs})
    assert resp.status_code == 201, resp.text
    return eid


async def query(client: httpx.AsyncClient, **params: Any) -> tuple[list[str], str | None]:
    resp = await client.get(ENTITIES, params=params)
    assert resp.status_code == 200, resp.text
    return [e["id"] for e in resp.json()], resp.headers.get("NGSILD-Results-Count")


async def test_near_max_and_min_distance_with_count_and_paging(client: httpx.AsyncClient) -> None:
    etype = new_type()
    # 30 points along the equator, 0.01 degree (about 1113 m) apart, from longitude 0.
    ids = [await create(client, etype, i, point(i * 0.01, 0.0)) for i in range(30)]
    near = {"type": etype, "georel": "near;maxDistance==5600", "geometry": "Point"}
    found, total = await query(client, **near, coordinates="[0.0, 0.0]", count="true")
    assert found == ids[:6] and total == "6"  # 0 .. 5566 m
    pages = [
        (await query(client, **near, coordinates="[0, 0]", limit=4, offset=o, count="true"))
        for o in (0, 4, 8)
    ]
    assert pages == [(ids[:4], "6"), (ids[4:6], "6"), ([], "6")]
    far = {"type": etype, "georel": "near;minDistance==30000", "geometry": "Point"}
    found, total = await query(client, **far, coordinates="[0, 0]", count="true", limit=2)
    assert found == ids[27:29] and total == "3"  # 30052 m and beyond
    # limit=0 only counts
    found, total = await query(client, **near, coordinates="[0, 0]", count="true", limit=0)
    assert (found, total) == ([], "6")


async def test_prefilter_box_is_larger_than_the_circle(client: httpx.AsyncClient) -> None:
    """Corners of the index box are not in the circle: the exact test drops them."""
    etype = new_type()
    inside = await create(client, etype, 1, point(0.0, 0.0899))  # 9996 m north
    await create(client, etype, 2, point(0.085, 0.085))  # 13.4 km away, in the box
    found, total = await query(
        client,
        type=etype,
        georel="near;maxDistance==10000",
        geometry="Point",
        coordinates="[0,0]",
        count="true",
    )
    assert (found, total) == ([inside], "1")


async def test_planar_relations(client: httpx.AsyncClient) -> None:
    etype = new_type()
    p_in = await create(client, etype, 1, point(1, 1))
    p_edge = await create(client, etype, 2, point(0, 1))
    p_out = await create(client, etype, 3, point(5, 5))
    sq_in = await create(client, etype, 4, square(0.5, 0.5, 1.5, 1.5))
    sq_cross = await create(client, etype, 5, square(1.5, 1.5, 3, 3))
    sq_same = await create(client, etype, 6, square(0, 0, 2, 2))
    line = await create(client, etype, 7, {"type": "LineString", "coordinates": [[-1, 1], [3, 1]]})
    region = "[[[0,0],[2,0],[2,2],[0,2],[0,0]]]"

    async def rel(georel: str, geometry: str = "Polygon", coords: str = region) -> list[str]:
        found, total = await query(
            client, type=etype, georel=georel, geometry=geometry, coordinates=coords, count="1"
        )
        assert total == str(len(found))
        return found

    assert await rel("within") == [p_in, sq_in, sq_same]
    assert await rel("intersects") == [p_in, p_edge, sq_in, sq_cross, sq_same, line]
    assert await rel("disjoint") == [p_out]
    assert await rel("overlaps") == [sq_cross]
    assert await rel("equals") == [sq_same]
    assert await rel("contains") == [sq_same]
    assert await rel("contains", "Point", "[1,1]") == [p_in, sq_in, sq_same, line]
    assert await rel("equals", "Point", "[5,5]") == [p_out]


async def test_post_query_with_geo_q(client: httpx.AsyncClient) -> None:
    etype = new_type()
    a = await create(client, etype, 1, point(10, 10))
    await create(client, etype, 2, point(20, 20))
    body = {
        "type": "Query",
        "entities": [{"type": etype}],
        "geoQ": {
            "georel": "within",
            "geometry": "Polygon",
            "coordinates": [[[9, 9], [11, 9], [11, 11], [9, 11], [9, 9]]],
        },
    }
    resp = await client.post("/ngsi-ld/v1/entityOperations/query?count=true", json=body)
    assert resp.status_code == 200, resp.text
    assert [e["id"] for e in resp.json()] == [a]
    assert resp.headers["NGSILD-Results-Count"] == "1"


async def test_other_geoproperty_without_prefilter(client: httpx.AsyncClient) -> None:
    etype = new_type()
    a = await create(
        client, etype, 1, point(0, 0), entrance={"type": "GeoProperty", "value": point(5, 5)}
    )
    await create(
        client, etype, 2, point(5, 5), entrance={"type": "GeoProperty", "value": point(0, 0)}
    )
    await create(client, etype, 3, point(5, 5))  # no entrance: never matches
    found, total = await query(
        client,
        type=etype,
        georel="near;maxDistance==1000",
        geometry="Point",
        coordinates="[5,5]",
        geoproperty="entrance",
        count="true",
    )
    assert (found, total) == ([a], "1")


async def test_geo_box_follows_writes(client: httpx.AsyncClient) -> None:
    """The index box moves with the location on merge, replace, attribute update, delete."""
    etype = new_type()
    eid = await create(client, etype, 1, point(0, 0))
    args = {"type": etype, "georel": "near;maxDistance==1000", "geometry": "Point"}

    async def at(lon: float, lat: float) -> list[str]:
        return (await query(client, **args, coordinates=f"[{lon},{lat}]"))[0]

    assert await at(0, 0) == [eid]
    moved = {"location": {"type": "GeoProperty", "value": point(30, 30)}}
    assert (await client.patch(f"{ENTITIES}/{eid}", json=moved)).status_code == 204
    assert (await at(0, 0), await at(30, 30)) == ([], [eid])
    replaced = {"type": etype, "location": {"type": "GeoProperty", "value": point(-40, 10)}}
    assert (await client.put(f"{ENTITIES}/{eid}", json=replaced)).status_code == 204
    assert (await at(30, 30), await at(-40, 10)) == ([], [eid])
    attr = {"type": "GeoProperty", "value": point(60, -20)}
    assert (await client.put(f"{ENTITIES}/{eid}/attrs/location", json=attr)).status_code == 204
    assert (await at(-40, 10), await at(60, -20)) == ([], [eid])
    assert (await client.delete(f"{ENTITIES}/{eid}/attrs/location")).status_code == 204
    found, _ = await query(
        client, type=etype, georel="disjoint", geometry="Point", coordinates="[0,0]"
    )
    assert found == [] and await at(60, -20) == []


def problem(detail: str, instance: str = ENTITIES) -> dict[str, Any]:
    return {
        "type": f"{ERR}BadRequestData",
        "title": "Bad request data",
        "status": 400,
        "detail": detail,
        "instance": instance,
    }


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"georel": "nearby", "geometry": "Point", "coordinates": "[0,0]"},
            "Invalid georel 'nearby': expected one of near, within, contains, intersects, "
            "equals, disjoint, overlaps",
        ),
        (
            {"georel": "near;maxDistance==-5", "geometry": "Point", "coordinates": "[0,0]"},
            "Invalid georel 'near;maxDistance==-5': maxDistance must be a non-negative "
            "number of metres",
        ),
        (
            {"georel": "near", "geometry": "Point", "coordinates": "[0,0]"},
            "Invalid georel 'near': near takes one modifier, near;maxDistance==N or "
            "near;minDistance==N (metres)",
        ),
        (
            {"georel": "within", "geometry": "Circle", "coordinates": "[0,0]"},
            "Invalid geometry 'Circle': expected one of Point, MultiPoint, LineString, "
            "MultiLineString, Polygon, MultiPolygon",
        ),
        (
            {"georel": "within", "geometry": "Point", "coordinates": "0,0"},
            "Invalid coordinates '0,0': not a JSON array (for example [8.0, 40.0])",
        ),
        (
            {"georel": "within", "geometry": "Point", "coordinates": "[[0,0]]"},
            "Invalid coordinates for a Point: a position must be [longitude, latitude], "
            "got [[0,0]]",
        ),
        (
            {"georel": "within", "geometry": "Polygon", "coordinates": "[[[0,0],[1,0],[1,1]]]"},
            "Invalid coordinates for a Polygon: a linear ring needs at least four positions",
        ),
        (
            {
                "georel": "within",
                "geometry": "Polygon",
                "coordinates": "[[[0,0],[1,0],[1,1],[0,1]]]",
            },
            "Invalid coordinates for a Polygon: a linear ring must be closed "
            "(last position = first)",
        ),
        (
            {"georel": "within", "geometry": "Point", "coordinates": "[181,0]"},
            "Invalid coordinates for a Point: [181.0, 0.0] is outside longitude "
            "-180..180 / latitude -90..90",
        ),
        (
            {
                "georel": "near;maxDistance==10",
                "geometry": "LineString",
                "coordinates": "[[0,0],[1,1]]",
            },
            "georel near takes a Point as its geometry, not a LineString",
        ),
        (
            {"georel": "within"},
            "A geo-query needs georel, geometry and coordinates together: georel given "
            "without geometry, coordinates",
        ),
        (
            {"geometry": "Point", "coordinates": "[0,0]"},
            "A geo-query needs georel, geometry and coordinates together: geometry, "
            "coordinates given without georel",
        ),
        (
            {"geoproperty": "location"},
            "geoproperty needs a geo-query: georel, geometry and coordinates",
        ),
        (
            {
                "georel": "within",
                "geometry": "Point",
                "coordinates": "[0,0]",
                "geoproperty": "a b",
            },
            "The geoproperty 'a b' is not a valid attribute name",
        ),
    ],
)
async def test_bad_geo_query(
    client: httpx.AsyncClient, params: dict[str, str], detail: str
) -> None:
    resp = await client.get(ENTITIES, params={"type": "Anything", **params})
    assert resp.status_code == 400, resp.text
    assert resp.json() == problem(detail)


@pytest.mark.parametrize(
    ("geo_q", "detail"),
    [
        (
            "within",
            "geoQ must be a GeoQuery object: georel, geometry and geoproperty strings, "
            "coordinates an array",
        ),
        (
            {"georel": "within", "geometry": "Point", "coordinates": 5},
            "geoQ must be a GeoQuery object: georel, geometry and geoproperty strings, "
            "coordinates an array",
        ),
        (
            {"georel": "within", "geometry": "Point"},
            "A geo-query needs georel, geometry and coordinates together: georel, geometry "
            "given without coordinates",
        ),
        (
            {"georel": "within", "geometry": "Point", "coordinates": [0, 95]},
            "Invalid coordinates for a Point: [0.0, 95.0] is outside longitude "
            "-180..180 / latitude -90..90",
        ),
    ],
)
async def test_bad_geo_q(client: httpx.AsyncClient, geo_q: Any, detail: str) -> None:
    body = {"type": "Query", "entities": [{"type": "Anything"}], "geoQ": geo_q}
    resp = await client.post("/ngsi-ld/v1/entityOperations/query", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json() == problem(detail, "/ngsi-ld/v1/entityOperations/query")


async def test_geo_query_alone_is_enough(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        ENTITIES, params={"georel": "within", "geometry": "Point", "coordinates": "[0,0]"}
    )
    assert resp.status_code == 200, resp.text
