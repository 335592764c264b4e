"""The temporal API and the history of every write, over HTTP on a real PostgreSQL (ETSI GS CIM
009 V1.8.1, 5.6.11-5.6.16, 5.7.3-5.7.4)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from conftest import serve
from context_broker.app import create_app

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
T = "/ngsi-ld/v1/temporal/entities"


def new_id(kind: str = "Vehicle") -> str:
    return f"urn:ngsi-ld:{kind}:{uuid.uuid4().hex}"


def prop(value: Any, at: str, **more: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at, **more}


def vehicle(eid: str, kind: str = "Vehicle") -> dict[str, Any]:
    return {
        "id": eid,
        "type": kind,
        "speed": [
            prop(120, "2020-08-01T12:03:00Z"),
            prop(80, "2020-08-01T12:05:00Z"),
            prop(100, "2020-08-01T12:07:00Z"),
        ],
        "fuelLevel": [
            prop(67, "2020-08-01T12:03:00Z"),
            prop(53, "2020-08-01T13:05:00Z"),
            prop(40, "2020-08-01T14:07:00Z"),
        ],
    }


def without_ids(entity: dict[str, Any]) -> dict[str, Any]:
    """The entity with the generated instanceIds taken out (checked separately)."""
    out: dict[str, Any] = {}
    for k, v in entity.items():
        if isinstance(v, list):
            v = [{m: x for m, x in i.items() if m != "instanceId"} for i in v]
        out[k] = v
    return out


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    resp = await client.post(T, json=body)
    assert resp.status_code == 201, resp.text


async def test_create_then_retrieve_the_temporal_evolution(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post(T, json=vehicle(eid))
    assert resp.status_code == 201
    assert resp.headers["location"] == f"{T}/{eid}"
    got = await client.get(f"{T}/{eid}")
    assert got.status_code == 200
    body = got.json()
    assert without_ids(body) == vehicle(eid)
    ids = [i["instanceId"] for i in body["speed"] + body["fuelLevel"]]
    assert len(set(ids)) == 6 and all(i.startswith("urn:ngsi-ld:Instance:") for i in ids)
    # The current state holds the most recent instance of each attribute.
    current = (await client.get(f"/ngsi-ld/v1/entities/{eid}")).json()
    assert current["speed"] == prop(100, "2020-08-01T12:07:00Z")
    assert current["fuelLevel"] == prop(40, "2020-08-01T14:07:00Z")


async def test_update_adds_instances_and_replaces_those_observed_at_the_same_time(
    client: httpx.AsyncClient,
) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    again = {"id": eid, "type": "Car", "speed": [prop(121, "2020-08-01T12:03:00Z")]}
    resp = await client.post(T, json=again)
    assert resp.status_code == 204
    body = (await client.get(f"{T}/{eid}", params={"attrs": "speed"})).json()
    assert body["type"] == ["Vehicle", "Car"]
    assert [i["value"] for i in body["speed"]] == [121, 80, 100]
    assert "fuelLevel" not in body


async def test_every_write_of_the_current_state_is_history(client: httpx.AsyncClient) -> None:
    eid = new_id("ParkingSpot")
    spot = {"id": eid, "type": "ParkingSpot", "status": {"type": "Property", "value": "free"}}
    assert (await client.post("/ngsi-ld/v1/entities", json=spot)).status_code == 201
    patch = {"status": {"type": "Property", "value": "occupied"}}
    assert (await client.patch(f"/ngsi-ld/v1/entities/{eid}/attrs", json=patch)).status_code == 204
    upsert = [{**spot, "status": {"type": "Property", "value": "closed"}}]
    resp = await client.post("/ngsi-ld/v1/entityOperations/upsert", json=upsert)
    assert resp.status_code in (201, 204)
    assert (await client.delete(f"/ngsi-ld/v1/entities/{eid}/attrs/status")).status_code == 204
    body = (await client.get(f"{T}/{eid}", params={"options": "temporalValues"})).json()
    values = [v for v, _ in body["status"]["values"]]
    assert values == ["free", "occupied", "closed", "urn:ngsi-ld:null"]
    deleted = (await client.get(f"{T}/{eid}", params={"timeproperty": "deletedAt"})).json()
    assert len(deleted["status"]) == 1
    assert deleted["status"][0]["value"] == "urn:ngsi-ld:null"
    assert deleted["status"][0]["deletedAt"].endswith("Z")
    # Deleting the entity keeps its history.
    assert (await client.delete(f"/ngsi-ld/v1/entities/{eid}")).status_code == 204
    kept = await client.get(f"{T}/{eid}", params={"options": "sysAttrs"})
    assert kept.status_code == 200
    assert kept.json()["deletedAt"].endswith("Z")


async def test_the_scope_has_a_history(client: httpx.AsyncClient) -> None:
    eid = new_id()
    body = {**vehicle(eid), "scope": ["/Madrid/Gardens"]}
    await create(client, body)
    assert (await client.delete(f"/ngsi-ld/v1/entities/{eid}/attrs/scope")).status_code == 204
    got = (await client.get(f"{T}/{eid}", params={"options": "temporalValues"})).json()
    assert [v for v, _ in got["scope"]["values"]] == [["/Madrid/Gardens"], []]
    deleted = (await client.get(f"{T}/{eid}", params={"timeproperty": "deletedAt"})).json()
    assert [(i["value"], "deletedAt" in i) for i in deleted["scope"]] == [([], True)]


async def test_unchanged_attributes_are_not_recorded_again(client: httpx.AsyncClient) -> None:
    eid = new_id("ParkingSpot")
    spot = {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "name": {"type": "Property", "value": "A1"},
    }
    assert (await client.post("/ngsi-ld/v1/entities", json=spot)).status_code == 201
    patch = {"status": {"type": "Property", "value": "occupied"}}
    assert (await client.post(f"/ngsi-ld/v1/entities/{eid}/attrs", json=patch)).status_code == 204
    body = (await client.get(f"{T}/{eid}")).json()
    assert len(body["status"]) == 2
    assert len(body["name"]) == 1


async def test_timerel_last_n_and_simplified(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    after = await client.get(
        f"{T}/{eid}", params={"timerel": "after", "timeAt": "2020-08-01T12:05:00Z"}
    )
    assert [i["value"] for i in after.json()["speed"]] == [80, 100]  # after is inclusive
    before = await client.get(
        f"{T}/{eid}", params={"timerel": "before", "timeAt": "2020-08-01T12:05:00Z"}
    )
    assert [i["value"] for i in before.json()["speed"]] == [120]  # before is exclusive
    between = await client.get(
        f"{T}/{eid}",
        params={
            "timerel": "between",
            "timeAt": "2020-08-01T12:03:00Z",
            "endTimeAt": "2020-08-01T12:07:00Z",
        },
    )
    assert [i["value"] for i in between.json()["speed"]] == [120, 80]
    last = await client.get(f"{T}/{eid}", params={"lastN": "2", "options": "temporalValues"})
    assert last.json() == {
        "id": eid,
        "type": "Vehicle",
        "speed": {
            "type": "Property",
            "values": [[80, "2020-08-01T12:05:00Z"], [100, "2020-08-01T12:07:00Z"]],
        },
        "fuelLevel": {
            "type": "Property",
            "values": [[53, "2020-08-01T13:05:00Z"], [40, "2020-08-01T14:07:00Z"]],
        },
    }


async def test_aggregated_values(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    resp = await client.get(
        f"{T}/{eid}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "avg,max,totalCount,sumsq",
            "aggrPeriodDuration": "PT1H",
        },
    )
    assert resp.status_code == 200
    assert resp.json()["speed"] == {
        "type": "Property",
        "avg": [[100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]],
        "max": [[120.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]],
        "totalCount": [[3, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]],
        "sumsq": [[30800.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]],
    }
    assert [b[0] for b in resp.json()["fuelLevel"]["avg"]] == [67.0, 53.0, 40.0]
    month = await client.get(
        f"{T}/{eid}",
        params={"options": "aggregatedValues", "aggrMethods": "min", "aggrPeriodDuration": "P1M"},
    )
    assert month.json()["fuelLevel"]["min"] == [
        [40.0, "2020-08-01T12:03:00Z", "2020-09-01T12:03:00Z"]
    ]


async def test_each_attribute_aggregates_from_its_first_instance(
    client: httpx.AsyncClient,
) -> None:
    eid = new_id()
    body = {
        "id": eid,
        "type": "Vehicle",
        "speed": [prop(10, "2020-08-01T12:00:00Z"), prop(20, "2020-08-01T12:30:00Z")],
        "fuelLevel": [prop(5, "2020-08-01T12:10:00Z"), prop(7, "2020-08-01T13:20:00Z")],
    }
    await create(client, body)
    resp = await client.get(
        f"{T}/{eid}",
        params={"options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "PT1H"},
    )
    got = resp.json()
    assert got["speed"]["sum"] == [[30.0, "2020-08-01T12:00:00Z", "2020-08-01T13:00:00Z"]]
    assert got["fuelLevel"]["sum"] == [
        [5.0, "2020-08-01T12:10:00Z", "2020-08-01T13:10:00Z"],
        [7.0, "2020-08-01T13:10:00Z", "2020-08-01T14:10:00Z"],
    ]
    # From timeAt, one period for the whole range (PT0S).
    whole = await client.get(
        f"{T}/{eid}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "totalCount,min",
            "aggrPeriodDuration": "PT0S",
            "timerel": "between",
            "timeAt": "2020-08-01T12:00:00Z",
            "endTimeAt": "2020-08-01T13:00:00Z",
        },
    )
    assert whole.json()["fuelLevel"] == {
        "type": "Property",
        "totalCount": [[1, "2020-08-01T12:00:00Z", "2020-08-01T13:00:00Z"]],
        "min": [[5.0, "2020-08-01T12:00:00Z", "2020-08-01T13:00:00Z"]],
    }


async def test_purge_and_batch_delete_are_history(client: httpx.AsyncClient) -> None:
    kind = f"Spot{uuid.uuid4().hex[:8]}"
    a, b = new_id(kind), new_id(kind)
    batch = [
        {"id": a, "type": kind, "status": {"type": "Property", "value": "free"}},
        {"id": b, "type": kind, "status": {"type": "Property", "value": "free"}},
    ]
    resp = await client.post("/ngsi-ld/v1/entityOperations/create", json=batch)
    assert resp.status_code == 201
    purge = await client.delete("/ngsi-ld/v1/entities", params={"type": kind, "drop": "status"})
    assert purge.status_code == 204
    resp = await client.post("/ngsi-ld/v1/entityOperations/delete", json=[b])
    assert resp.status_code == 204
    for eid in (a, b):
        values = (await client.get(f"{T}/{eid}", params={"options": "temporalValues"})).json()
        assert [v for v, _ in values["status"]["values"]] == ["free", "urn:ngsi-ld:null"]


async def test_query_in_descending_id_order(client: httpx.AsyncClient) -> None:
    kind = f"Bus{uuid.uuid4().hex[:8]}"
    ids = sorted(new_id(kind) for _ in range(3))
    for eid in ids:
        await create(client, vehicle(eid, kind))
    params = {"type": kind, "timerel": "after", "timeAt": "2020-01-01T00:00:00Z", "limit": "2"}
    asc = await client.get(T, params=params)
    assert [e["id"] for e in asc.json()] == ids[:2]
    desc = await client.get(T, params={**params, "orderBy": "id;desc"})
    assert [e["id"] for e in desc.json()] == ids[::-1][:2]
    rest = await client.get(T, params={**params, "orderBy": "id;desc", "offset": "2"})
    assert [e["id"] for e in rest.json()] == ids[:1]
    bad = await client.get(T, params={**params, "orderBy": "speed"})
    assert bad.status_code == 400


async def test_query_uses_the_filters_of_query_entities(client: httpx.AsyncClient) -> None:
    kind = f"Bus{uuid.uuid4().hex[:8]}"
    fast, slow = new_id(kind), new_id(kind)
    await create(client, vehicle(fast, kind))
    slow_body = vehicle(slow, kind)
    slow_body["speed"] = [prop(30, "2020-08-01T12:03:00Z")]
    await create(client, slow_body)
    resp = await client.get(
        T,
        params={
            "type": kind,
            "q": "speed>90",
            "timerel": "after",
            "timeAt": "2020-08-01T12:00:00Z",
            "count": "true",
        },
    )
    assert resp.status_code == 200
    assert [e["id"] for e in resp.json()] == [fast]
    assert resp.headers["NGSILD-Results-Count"] == "1"
    post = await client.post(
        "/ngsi-ld/v1/temporal/entityOperations/query",
        json={
            "type": "Query",
            "entities": [{"type": kind}],
            "attrs": ["speed"],
            "temporalQ": {"timerel": "before", "timeAt": "2020-08-01T12:04:00Z", "lastN": 1},
        },
    )
    assert post.status_code == 200
    got = {e["id"]: [i["value"] for i in e["speed"]] for e in post.json()}
    assert got == {fast: [120], slow: [30]}
    # An entity with no history in the range is not in the answer.
    late = await client.get(
        T, params={"type": kind, "timerel": "after", "timeAt": "2021-01-01T00:00:00Z"}
    )
    assert late.json() == []


async def test_modify_and_delete_an_instance(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    first = (await client.get(f"{T}/{eid}")).json()["speed"][0]
    url = f"{T}/{eid}/attrs/speed/{first['instanceId']}"
    resp = await client.patch(url, json={"type": "Property", "value": 121})
    assert resp.status_code == 204
    speed = (await client.get(f"{T}/{eid}")).json()["speed"]
    assert speed[0]["instanceId"] == first["instanceId"]
    assert speed[0]["value"] == 121 and speed[0]["observedAt"] == "2020-08-01T12:03:00Z"
    assert (await client.delete(url)).status_code == 204
    assert [i["value"] for i in (await client.get(f"{T}/{eid}")).json()["speed"]] == [80, 100]
    gone = await client.delete(url)
    assert gone.status_code == 404
    assert gone.json()["type"] == ERR + "ResourceNotFound"


async def test_append_and_delete_attributes_and_entities(client: httpx.AsyncClient) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    more = {"temperature": [prop(20, "2020-08-01T12:00:00Z"), prop(21, "2020-08-01T13:00:00Z")]}
    assert (await client.post(f"{T}/{eid}/attrs", json=more)).status_code == 204
    body = (await client.get(f"{T}/{eid}")).json()
    assert [i["value"] for i in body["temperature"]] == [20, 21]
    assert (await client.delete(f"{T}/{eid}/attrs/temperature")).status_code == 204
    assert "temperature" not in (await client.get(f"{T}/{eid}")).json()
    assert "temperature" not in (await client.get(f"/ngsi-ld/v1/entities/{eid}")).json()
    assert (await client.delete(f"{T}/{eid}")).status_code == 204
    assert (await client.get(f"{T}/{eid}")).status_code == 404
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 404
    missing = await client.post(f"{T}/{eid}/attrs", json=more)
    assert missing.status_code == 404


async def test_tenants_have_their_own_history(client: httpx.AsyncClient) -> None:
    eid = new_id()
    resp = await client.post(T, json=vehicle(eid), headers={"NGSILD-Tenant": "city-b"})
    assert resp.status_code == 201
    assert (await client.get(f"{T}/{eid}")).status_code == 404
    other = await client.get(f"{T}/{eid}", headers={"NGSILD-Tenant": "city-b"})
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"timerel": "after"}, "BadRequestData"),
        ({"timerel": "between", "timeAt": "2020-08-01T12:00:00Z"}, "BadRequestData"),
        ({"timerel": "after", "timeAt": "2020-08-01"}, "BadRequestData"),
        ({"options": "aggregatedValues", "aggrMethods": "median"}, "BadRequestData"),
        (
            {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1H"},
            "BadRequestData",
        ),
        ({"lastN": "0"}, "BadRequestData"),
        ({"options": "bogus"}, "InvalidRequest"),
        ({"timeproperty": "observed"}, "BadRequestData"),
        ({"unknown": "1"}, "InvalidRequest"),
    ],
)
async def test_bad_reads_are_refused(
    client: httpx.AsyncClient, params: dict[str, str], kind: str
) -> None:
    eid = new_id()
    await create(client, vehicle(eid))
    resp = await client.get(f"{T}/{eid}", params=params)
    assert resp.status_code == 400
    problem = resp.json()
    assert problem["type"] == ERR + kind
    assert problem["title"] and problem["detail"] and problem["title"] != problem["detail"]


async def test_a_query_that_does_not_parse_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        T,
        params={
            "type": "Vehicle",
            "q": "speed>>",
            "timerel": "after",
            "timeAt": "2020-01-01T00:00:00Z",
        },
    )
    assert resp.status_code == 400
    assert resp.json()["type"] == ERR + "BadRequestData"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": "not a uri", "type": "Vehicle"},
        {"id": "urn:x:1", "type": "Vehicle", "speed": "urn:ngsi-ld:null"},
        {"id": "urn:x:1", "type": "Vehicle", "speed": [prop(1, "2020-02-30T00:00:00Z")]},
        {"id": "urn:x:1", "type": "Vehicle", "speed": [{"type": "Relationship", "object": "x"}]},
    ],
)
async def test_bad_writes_store_nothing(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    eid = new_id()
    if "id" in body and body["id"] == "urn:x:1":
        body = {**body, "id": eid}
    resp = await client.post(T, json=body)
    assert resp.status_code == 400
    assert resp.json()["type"] in (ERR + "BadRequestData", ERR + "InvalidRequest")
    assert (await client.get(f"{T}/{eid}")).status_code == 404
    assert (await client.get(f"/ngsi-ld/v1/entities/{eid}")).status_code == 404


async def test_long_histories_come_in_pages(settings_for: Callable[..., object]) -> None:
    settings = settings_for("context-broker", temporal_page_limit=4)
    async with serve(create_app(settings)) as small:  # type: ignore[arg-type]
        eid = new_id()
        resp = await small.post(T, json=vehicle(eid))
        assert resp.status_code == 201
        first = await small.get(
            f"{T}/{eid}", params={"timerel": "after", "timeAt": "2020-08-01T00:00:00Z"}
        )
        assert first.status_code == 206
        assert first.headers["Content-Range"] == (
            "date-time 2020-08-01T00:00:00Z-2020-08-01T12:07:00Z/*"
        )
        body = first.json()
        assert [i["value"] for i in body["speed"]] == [120, 80, 100]
        assert [i["value"] for i in body["fuelLevel"]] == [67]
        rest = await small.get(
            f"{T}/{eid}", params={"timerel": "after", "timeAt": "2020-08-01T12:07:01Z"}
        )
        assert rest.status_code == 200
        assert [i["value"] for i in rest.json()["fuelLevel"]] == [53, 40]
