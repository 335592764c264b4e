"""Create, Retrieve and Delete Entity over HTTP, with their errors (ETSI GS CIM 009 V1.8.1)."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
JSON = {"Content-Type": "application/json"}


def new_id() -> str:
    return f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"


def spot(eid: str) -> dict[str, object]:
    return {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [4.35, 50.85]},
        },
    }


async def test_create_then_retrieve_returns_the_entity(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post("/ngsi-ld/v1/entities", json=spot(eid))
    assert resp.status_code == 201
    assert resp.headers["location"] == f"/ngsi-ld/v1/entities/{eid}"
    got = await client.get(f"/ngsi-ld/v1/entities/{eid}")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == spot(eid)
    assert "ngsi-ld-core-context" in got.headers["link"]


async def test_trailing_slash_is_served_like_ngsildclient_sends_it(
    client: httpx.AsyncClient,
) -> None:
    eid = new_id()
    assert (await client.post("/ngsi-ld/v1/entities/", json=spot(eid))).status_code == 201
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 200


async def test_ld_json_keeps_its_context_and_sys_attrs_are_added(
    client: httpx.AsyncClient,
) -> None:
    eid = new_id()
    context = {"occupancy": "https://smartdatamodels.org/dataModel.Parking/occupancy"}
    body = {**spot(eid), "occupancy": {"type": "Property", "value": 0}, "@context": context}
    resp = await client.post(
        "/ngsi-ld/v1/entities",
        content=orjson.dumps(body),
        headers={"Content-Type": "application/ld+json"},
    )
    assert resp.status_code == 201
    got = await client.get(
        f"/ngsi-ld/v1/entities/{eid}",
        params={"options": "sysAttrs"},
        headers={"Accept": "application/ld+json"},
    )
    assert got.headers["content-type"] == "application/ld+json"
    entity = got.json()
    assert entity["@context"] == "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
    # Read back in the core context only, the attribute defined by the user context comes
    # back as its full IRI: it was stored expanded.
    assert "https://smartdatamodels.org/dataModel.Parking/occupancy" in entity
    assert entity["createdAt"].endswith("Z") and entity["modifiedAt"].endswith("Z")


async def test_a_vocab_member_on_another_kind_is_kept_as_it_is(client: httpx.AsyncClient) -> None:
    """A concise attribute with an ``object`` is a Relationship (4.5.1); a ``vocab`` member
    it also carries is not a VocabProperty's and may hold anything: kept, its terms only
    expanded (a number or an object in it was a 500)."""
    eid = new_id()
    body = {
        "id": eid,
        "type": "T",
        "a": {"object": "urn:x:1", "vocab": 5},
        "b": {"object": "urn:x:2", "vocab": [{"x": 1}, "term"]},
    }
    assert (await client.post("/ngsi-ld/v1/entities", json=body)).status_code == 201
    got = (await client.get(f"/ngsi-ld/v1/entities/{eid}")).json()
    assert got["a"] == {"type": "Relationship", "object": "urn:x:1", "vocab": 5}
    assert got["b"]["vocab"] == [{"x": 1}, "term"]


async def test_tenants_are_isolated(client: httpx.AsyncClient) -> None:
    eid = new_id()
    created = await client.post(
        "/ngsi-ld/v1/entities", json=spot(eid), headers={"NGSILD-Tenant": "city-a"}
    )
    assert created.status_code == 201
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 404
    other = await client.get(f"/ngsi-ld/v1/entities/{eid}", headers={"NGSILD-Tenant": "city-b"})
    assert other.status_code == 404
    own = await client.get(f"/ngsi-ld/v1/entities/{eid}", headers={"NGSILD-Tenant": "city-a"})
    assert own.status_code == 200


async def test_delete_removes_the_entity(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await client.post("/ngsi-ld/v1/entities", json=spot(eid))
    assert (await client.delete(f"/ngsi-ld/v1/entities/{eid}")).status_code == 204
    missing = await client.get(f"/ngsi-ld/v1/entities/{eid}")
    assert missing.status_code == 404
    assert missing.json() == {
        "type": ERR + "ResourceNotFound",
        "title": "Resource not found",
        "status": 404,
        "detail": f"Entity {eid} does not exist",
        "instance": f"/ngsi-ld/v1/entities/{eid}",
    }


async def test_creating_twice_is_already_exists(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await client.post("/ngsi-ld/v1/entities", json=spot(eid))
    again = await client.post("/ngsi-ld/v1/entities", json=spot(eid))
    assert again.status_code == 409
    assert again.json()["type"] == ERR + "AlreadyExists"
    assert again.json()["detail"] == f"Entity {eid} already exists"


@pytest.mark.parametrize(
    ("content", "headers", "status", "etsi_type", "detail_part"),
    [
        (b"{not json", JSON, 400, "InvalidRequest", "not valid JSON"),
        (b"", JSON, 400, "InvalidRequest", "empty"),
        (
            b'{"id": "urn:x:1", "type": "T"}',
            {"Content-Type": "text/plain"},
            415,
            "InvalidRequest",
            "application/json or application/ld+json",
        ),
        (b'{"id": "urn:x:1", "type": "T"}', {}, 415, "InvalidRequest", "without a Content-Type"),
        (b'{"id": "not a uri", "type": "T"}', JSON, 400, "BadRequestData", "is not a URI"),
        (b'{"type": "T"}', JSON, 400, "BadRequestData", "has no id"),
        (b'{"id": "urn:x:1"}', JSON, 400, "BadRequestData", "no valid type"),
        (
            b'{"id": "urn:x:1", "type": "T", "bad name": {"value": 1}}',
            JSON,
            400,
            "BadRequestData",
            "forbidden name",
        ),
        (
            b'{"id": "urn:x:1", "type": "T", "@context": "http://x"}',
            JSON,
            400,
            "BadRequestData",
            "must not carry @context",
        ),
        (
            b'{"id": "urn:x:1", "type": "T"}',
            {"Content-Type": "application/ld+json"},
            400,
            "BadRequestData",
            "must carry its @context",
        ),
        (b"[1, 2]", JSON, 400, "InvalidRequest", "JSON object"),  # ETSI 001_02_02
        # An attribute's type that is no string (these were 500s: a list is unhashable).
        *(
            (
                b'{"id": "urn:x:1", "type": "T", "a": {"type": ' + t + b', "value": 1}}',
                JSON,
                400,
                "BadRequestData",
                "has a type that is not a string",
            )
            for t in (b'["Property"]', b"null", b"5", b'{"a": 1}')
        ),
        (
            b'{"id": "urn:x:1", "type": "T", "a": ' + b"[" * 70 + b"]" * 70 + b"}",
            JSON,
            400,
            "InvalidRequest",
            "nests deeper",
        ),
    ],
)
async def test_bad_bodies_get_problem_details_and_write_nothing(
    client: httpx.AsyncClient,
    content: bytes,
    headers: dict[str, str],
    status: int,
    etsi_type: str,
    detail_part: str,
) -> None:
    resp = await client.post("/ngsi-ld/v1/entities", content=content, headers=headers)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["type"] == ERR + etsi_type
    assert detail_part in body["detail"]
    assert body["title"] and body["title"] != body["detail"]
    assert (await client.get("/ngsi-ld/v1/entities/urn:x:1")).status_code == 404


async def test_oversized_body_is_refused(client: httpx.AsyncClient) -> None:
    big = orjson.dumps({"id": new_id(), "type": "T", "blob": {"value": "x" * 3_000_000}})
    resp = await client.post("/ngsi-ld/v1/entities", content=big, headers=JSON)
    assert resp.status_code == 413
    assert resp.json()["type"] == ERR + "BadRequestData"
    assert "exceeds the limit" in resp.json()["detail"]


async def test_injection_in_the_id_is_just_an_id(client: httpx.AsyncClient) -> None:
    spaced = await client.get("/ngsi-ld/v1/entities/urn:x:1';DROP TABLE entity;--")
    assert spaced.status_code == 400
    assert "is not a URI" in spaced.json()["detail"]
    packed = await client.get("/ngsi-ld/v1/entities/urn:x:1';DROP/**/TABLE/**/entity;--")
    assert packed.status_code == 404
    eid = new_id()
    assert (await client.post("/ngsi-ld/v1/entities", json=spot(eid))).status_code == 201
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 200


async def test_bad_tenant_and_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    tenant = await client.get("/ngsi-ld/v1/entities/urn:x:1", headers={"NGSILD-Tenant": "a b"})
    assert tenant.status_code == 400
    assert tenant.json()["type"] == ERR + "BadRequestData"
    route = await client.get("/ngsi-ld/v1/nothing-here")
    assert route.status_code == 404
    assert route.json()["type"] == ERR + "ResourceNotFound"
    method = await client.put("/ngsi-ld/v1/entityOperations/query")
    assert method.status_code == 405
    assert method.json()["type"] == ERR + "InvalidRequest"
    assert "POST" in method.headers["allow"]


async def test_unacceptable_accept_is_406(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ngsi-ld/v1/entities/urn:x:1", headers={"Accept": "text/csv"})
    assert resp.status_code == 406
    assert "application/ld+json" in resp.json()["detail"]


async def test_purge_with_an_invalid_id_pattern_is_400(client: httpx.AsyncClient) -> None:
    r = await client.delete("/ngsi-ld/v1/entities", params={"idPattern": "*bad", "type": "T"})
    assert r.status_code == 400
    assert r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("type=T&limit=-1", "The query parameter limit must be a whole number of 0 or more"),
        ("type=T&offset=x", "The query parameter offset must be a whole number of 0 or more"),
        ("type=T&count=maybe", "The query parameter count must be true or false"),
        ("type=T&local=2", "The query parameter local must be true or false"),
        ("type=T&limits=3", "Unknown query parameter 'limits' for GET /ngsi-ld/v1/entities"),
    ],
)
async def test_bad_query_parameters_are_invalid_requests(
    client: httpx.AsyncClient, query: str, detail: str
) -> None:
    resp = await client.get(f"/ngsi-ld/v1/entities?{query}")
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
    assert resp.json()["detail"] == detail


async def test_query_parameters_read_by_the_broker_itself(client: httpx.AsyncClient) -> None:
    kind = f"Param{uuid.uuid4().hex[:8]}"
    for n in range(3):
        body = {
            "id": f"urn:ngsi-ld:{kind}:{n}",
            "type": kind,
            "n": {"type": "Property", "value": n},
        }
        assert (await client.post("/ngsi-ld/v1/entities", json=body)).status_code == 201
    resp = await client.get(
        f"/ngsi-ld/v1/entities?type={kind}&limit=1&offset=1&count=TRUE&attrs=n&format=keyValues"
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == [{"id": f"urn:ngsi-ld:{kind}:1", "type": kind, "n": 1}]
    assert resp.headers["ngsild-results-count"] == "3"
    off = await client.get(f"/ngsi-ld/v1/entities?type={kind}&count=0&limit=0")
    assert off.json() == [] and "ngsild-results-count" not in off.headers
    one = await client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:{kind}:2?options=keyValues&pick=n")
    assert one.json() == {"n": 2}


async def test_concurrent_writes_to_one_entity_lose_nothing(client: httpx.AsyncClient) -> None:
    """Writes read, change and store the entity optimistically (EntityService._modify): a
    write that loses the race is applied again to the entity as the winner left it."""
    import asyncio

    eid = f"urn:ngsi-ld:Race:{uuid.uuid4().hex}"
    created = await client.post("/ngsi-ld/v1/entities", json={"id": eid, "type": "Race"})
    assert created.status_code == 201
    names = [f"a{n}" for n in range(24)]

    async def append(name: str) -> int:
        body = {name: {"type": "Property", "value": name}}
        return (await client.post(f"/ngsi-ld/v1/entities/{eid}/attrs", json=body)).status_code

    assert set(await asyncio.gather(*(append(n) for n in names))) == {204}

    async def update(name: str) -> int:
        body = {name: {"type": "Property", "value": name.upper()}}
        return (await client.patch(f"/ngsi-ld/v1/entities/{eid}/attrs", json=body)).status_code

    assert set(await asyncio.gather(*(update(n) for n in names))) == {204}
    got = (await client.get(f"/ngsi-ld/v1/entities/{eid}?options=keyValues")).json()
    assert {k: v for k, v in got.items() if k not in ("id", "type")} == {
        n: n.upper() for n in names
    }


async def test_attrs_without_a_name_and_non_object_entities(client: httpx.AsyncClient) -> None:
    """ETSI 013_02_03: DELETE .../attrs/ (no attribute name) is 405, not a request about an
    entity named ``.../attrs``; 001_02_02: an entity that is not an object is InvalidRequest;
    049_02_02: the temporal API has no GeoJSON representation (406)."""
    eid = f"urn:ngsi-ld:Named:{uuid.uuid4().hex}"
    assert (
        await client.post("/ngsi-ld/v1/entities", json={"id": eid, "type": "T"})
    ).status_code == 201
    gone = await client.delete(f"/ngsi-ld/v1/entities/{eid}/attrs/?deleteAll=false")
    assert gone.status_code == 405, gone.text
    assert gone.headers["allow"] == "POST, PATCH"
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 200
    listed = await client.post("/ngsi-ld/v1/entities", json=[])
    assert listed.status_code == 400
    assert listed.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
    geo = await client.get(
        "/ngsi-ld/v1/temporal/entities?type=T", headers={"Accept": "application/geo+json"}
    )
    assert geo.status_code == 406
    plain = await client.get(
        f"/ngsi-ld/v1/entities/{eid}", headers={"Accept": "application/geo+json"}
    )
    assert plain.status_code == 200 and plain.json()["type"] == "Feature"


async def test_simplified_multi_attribute_is_a_dataset_map(client: httpx.AsyncClient) -> None:
    """4.5.4: in the simplified representation (keyValues) a multi-attribute is an object
    with one member, ``dataset``, mapping each datasetId to the simplified value, the default
    instance under ``@none``; an attribute of one instance stays its plain value."""
    eid = f"urn:ngsi-ld:Named:{uuid.uuid4().hex}"
    body = {
        "id": eid,
        "type": "T",
        "name": [
            {"type": "Property", "value": "Eiffel Tower"},
            {"type": "Property", "value": "Eiffelturm", "datasetId": "urn:ngsi-ld:Dataset:de"},
        ],
        "near": [
            {"type": "Relationship", "object": "urn:ngsi-ld:City:Paris"},
            {"type": "Relationship", "object": "urn:ngsi-ld:Ville:Paris", "datasetId": "urn:d:fr"},
        ],
        "only": {"type": "Property", "value": 7, "datasetId": "urn:d:one"},
    }
    assert (await client.post("/ngsi-ld/v1/entities", json=body)).status_code == 201
    for url in (
        f"/ngsi-ld/v1/entities/{eid}?options=keyValues",
        f"/ngsi-ld/v1/entities?id={eid}&type=T&format=simplified",
    ):
        got = (await client.get(url)).json()
        got = got[0] if isinstance(got, list) else got
        assert got["name"] == {
            "dataset": {"@none": "Eiffel Tower", "urn:ngsi-ld:Dataset:de": "Eiffelturm"}
        }
        assert got["near"] == {
            "dataset": {"@none": "urn:ngsi-ld:City:Paris", "urn:d:fr": "urn:ngsi-ld:Ville:Paris"}
        }
        assert got["only"] == 7
    # the normalized and concise representations keep the array of instances
    normal = (await client.get(f"/ngsi-ld/v1/entities/{eid}")).json()
    assert isinstance(normal["name"], list) and len(normal["name"]) == 2
    concise = (await client.get(f"/ngsi-ld/v1/entities/{eid}?options=concise")).json()
    assert isinstance(concise["near"], list) and len(concise["near"]) == 2


async def test_geojson_of_a_simplified_multi_location_takes_the_default(
    client: httpx.AsyncClient,
) -> None:
    """GeoJSON (6.3.15) with keyValues: a multi-attribute location is a dataset map
    (4.5.4); the Feature's geometry is its default instance, else its first."""
    eid = f"urn:ngsi-ld:Named:{uuid.uuid4().hex}"
    point = {"type": "Point", "coordinates": [1.0, 2.0]}
    other = {"type": "Point", "coordinates": [3.0, 4.0]}
    body = {
        "id": eid,
        "type": "T",
        "location": [
            {"type": "GeoProperty", "value": other, "datasetId": "urn:ngsi-ld:Dataset:gps"},
            {"type": "GeoProperty", "value": point},
        ],
    }
    assert (await client.post("/ngsi-ld/v1/entities", json=body)).status_code == 201
    geo = {"Accept": "application/geo+json"}
    for options in ("keyValues", "normalized", "concise"):
        got = await client.get(f"/ngsi-ld/v1/entities/{eid}?options={options}", headers=geo)
        assert got.status_code == 200, got.text
        feature = got.json()
        assert feature["geometry"] in (point, other), (options, feature)
    simplified = await client.get(f"/ngsi-ld/v1/entities/{eid}?options=keyValues", headers=geo)
    assert simplified.json()["geometry"] == point
