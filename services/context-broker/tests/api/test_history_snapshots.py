"""A created entity is recorded as one snapshot row (migration 0012) and reads as the
instances it holds; the temporal API's changes to those instances (ETSI GS CIM 009 V1.8.1,
5.6.12-5.6.15) apply as to any other, and the instanceIds shown stay valid."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from mims_shared.db import libpq_url

T = "/ngsi-ld/v1/temporal/entities"
E = "/ngsi-ld/v1/entities"


@pytest.fixture(scope="module")
async def db(databases: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(libpq_url(databases["context-broker"]))
    yield conn
    await conn.close()


async def rows(db: asyncpg.Connection, eid: str) -> list[str]:
    """The attr of each attr_instance row of the entity ('' for a snapshot)."""
    found = await db.fetch(
        "SELECT a.attr FROM attr_instance a JOIN temporal_entity t ON t.key = a.entity_key "
        "WHERE t.tenant = '' AND t.id = $1 ORDER BY a.attr",
        eid,
    )
    return [r["attr"] for r in found]


def spot(eid: str) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "ParkingSpot",
        "scope": ["/Madrid/Centro"],
        "status": {"type": "Property", "value": "free"},
        "temperature": {
            "type": "Property",
            "value": 12.5,
            "observedAt": "2020-01-01T10:00:00Z",
        },
        "occupancy": [
            {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"},
            {"type": "Property", "value": 2, "datasetId": "urn:ngsi-ld:Dataset:b"},
        ],
        "refGarage": {"type": "Relationship", "object": "urn:ngsi-ld:Garage:1"},
    }


def ids(body: dict[str, Any]) -> dict[str, list[str]]:
    return {
        k: [i["instanceId"] for i in v]
        for k, v in body.items()
        if isinstance(v, list) and v and isinstance(v[0], dict)
    }


@pytest.fixture
async def created(client: httpx.AsyncClient) -> str:
    eid = f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"
    assert (await client.post(E, json=spot(eid))).status_code == 201
    return eid


async def test_a_create_is_one_row_that_reads_as_its_instances(
    client: httpx.AsyncClient, db: asyncpg.Connection, created: str
) -> None:
    assert await rows(db, created) == [""]
    body = (await client.get(f"{T}/{created}")).json()
    assert body["status"][0]["value"] == "free"
    assert body["refGarage"][0]["object"] == "urn:ngsi-ld:Garage:1"
    assert body["temperature"][0]["observedAt"] == "2020-01-01T10:00:00Z"
    assert sorted(i["value"] for i in body["occupancy"]) == [1, 2]
    assert {i.get("datasetId") for i in body["occupancy"]} == {
        "urn:ngsi-ld:Dataset:a",
        "urn:ngsi-ld:Dataset:b",
    }
    values = (await client.get(f"{T}/{created}", params={"options": "temporalValues"})).json()
    assert values["scope"]["values"][0][0] == ["/Madrid/Centro"]
    names = [i for v in ids(body).values() for i in v]
    assert len(names) == len(set(names)) == 6
    assert all(i.startswith("urn:ngsi-ld:Instance:") and "-" in i for i in names)
    # Time filters apply to each instance: temperature was observed in 2020, the others
    # were written now.
    before = await client.get(
        f"{T}/{created}", params={"timerel": "before", "timeAt": "2021-01-01T00:00:00Z"}
    )
    assert set(ids(before.json())) == {"temperature"}
    sys = (await client.get(f"{T}/{created}", params={"options": "sysAttrs"})).json()
    assert all("createdAt" in i and "modifiedAt" in i for i in sys["status"])


async def test_reads_mix_snapshots_and_later_instances(
    client: httpx.AsyncClient, db: asyncpg.Connection, created: str
) -> None:
    for value in (13.0, 14.0):
        patch = {
            "temperature": {
                "type": "Property",
                "value": value,
                "observedAt": f"2020-01-01T1{int(value) - 12}:00:00Z",
            }
        }
        assert (await client.patch(f"{E}/{created}/attrs", json=patch)).status_code == 204
    assert await rows(db, created) == ["", TEMPERATURE, TEMPERATURE]
    body = (await client.get(f"{T}/{created}", params={"attrs": "temperature"})).json()
    assert [i["value"] for i in body["temperature"]] == [12.5, 13.0, 14.0]
    last = (await client.get(f"{T}/{created}", params={"lastN": "1"})).json()
    assert [i["value"] for i in last["temperature"]] == [14.0]
    assert [i["value"] for i in last["status"]] == ["free"]
    aggr = await client.get(
        f"{T}/{created}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "sum,totalCount",
            "attrs": "temperature",
        },
    )
    assert aggr.json()["temperature"]["sum"][0][0] == 39.5
    assert aggr.json()["temperature"]["totalCount"][0][0] == 3


async def test_changing_a_snapshot_instance_keeps_every_instance_id(
    client: httpx.AsyncClient, db: asyncpg.Connection, created: str
) -> None:
    before = ids((await client.get(f"{T}/{created}")).json())
    name = before["status"][0]
    resp = await client.patch(
        f"{T}/{created}/attrs/status/{name}", json={"type": "Property", "value": "closed"}
    )
    assert resp.status_code == 204, resp.text
    assert "" not in await rows(db, created)  # unfolded into ordinary rows
    after = (await client.get(f"{T}/{created}")).json()
    assert ids(after) == before
    assert after["status"][0]["value"] == "closed"
    assert after["temperature"][0]["value"] == 12.5
    # Delete one instance of the two datasetIds, then the attribute of the other.
    gone = next(i["instanceId"] for i in after["occupancy"] if i["datasetId"].endswith(":a"))
    assert (await client.delete(f"{T}/{created}/attrs/occupancy/{gone}")).status_code == 204
    left = (await client.get(f"{T}/{created}")).json()
    assert [i["value"] for i in left["occupancy"]] == [2]
    assert (await client.delete(f"{T}/{created}/attrs/occupancy/{gone}")).status_code == 404


async def test_instance_ids_of_snapshots_are_checked(
    client: httpx.AsyncClient, created: str
) -> None:
    name = ids((await client.get(f"{T}/{created}")).json())["status"][0]
    number = name.removeprefix("urn:ngsi-ld:Instance:").split("-")[0]
    for wrong in (f"urn:ngsi-ld:Instance:{number}-1", f"urn:ngsi-ld:Instance:{number}-x"):
        resp = await client.delete(f"{T}/{created}/attrs/status/{wrong}")
        assert resp.status_code == 404, wrong
    # The right one, named under another attribute, is not that attribute's.
    assert (await client.delete(f"{T}/{created}/attrs/temperature/{name}")).status_code == 404
    assert (await client.delete(f"{T}/{created}/attrs/status/{name}")).status_code == 204


async def test_delete_attribute_and_same_time_append_apply_to_snapshots(
    client: httpx.AsyncClient, db: asyncpg.Connection, created: str
) -> None:
    replaced = {
        "temperature": [{"type": "Property", "value": 99.0, "observedAt": "2020-01-01T10:00:00Z"}]
    }
    assert (await client.post(f"{T}/{created}/attrs", json=replaced)).status_code == 204
    body = (await client.get(f"{T}/{created}", params={"attrs": "temperature"})).json()
    assert [i["value"] for i in body["temperature"]] == [99.0]
    resp = await client.delete(
        f"{T}/{created}/attrs/occupancy", params={"datasetId": "urn:ngsi-ld:Dataset:b"}
    )
    assert resp.status_code == 204
    body = (await client.get(f"{T}/{created}", params={"attrs": "occupancy"})).json()
    assert [i["datasetId"] for i in body["occupancy"]] == ["urn:ngsi-ld:Dataset:a"]
    assert "" not in await rows(db, created)


async def test_each_create_of_a_batch_is_a_snapshot(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    eids = [f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}" for _ in range(3)]
    resp = await client.post("/ngsi-ld/v1/entityOperations/create", json=[spot(e) for e in eids])
    assert resp.status_code == 201
    for eid in eids:
        assert await rows(db, eid) == [""]
        body = (await client.get(f"{T}/{eid}")).json()
        assert body["id"] == eid and body["status"][0]["value"] == "free"


TEMPERATURE = "https://uri.etsi.org/ngsi-ld/default-context/temperature"


async def test_a_snapshot_of_many_attributes_reads_and_changes(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Instances are numbered by their place in the snapshot: an entity with 40,000
    attributes (written in SQL) reads, and its last instance can be deleted by its id."""
    eid = f"urn:ngsi-ld:Big:{uuid.uuid4().hex}"
    await db.execute(
        "INSERT INTO entity (tenant, id, types, attrs, created_at, modified_at) "
        "SELECT '', $1, ARRAY['https://uri.etsi.org/ngsi-ld/default-context/Big'], "
        "jsonb_object_agg('https://uri.etsi.org/ngsi-ld/default-context/a' || g, "
        "jsonb_build_object('type', 'Property', 'value', g)), now(), now() "
        "FROM generate_series(1, 40000) g",
        eid,
    )
    last = await client.get(f"{T}/{eid}", params={"lastN": "1"})
    assert last.status_code in (200, 206), last.text[:300]  # 206: a page of the 40,000
    names = [i for v in ids(last.json()).values() for i in v]
    assert len(names) == len(set(names)) >= 1000
    # The last attribute in jsonb's key order (longest, then bytewise) is number 40,000.
    one = await client.get(f"{T}/{eid}", params={"attrs": "a40000"})
    assert one.status_code == 200, one.text[:300]
    top = one.json()["a40000"][0]["instanceId"]
    assert top.endswith("-40000")
    gone = await client.delete(f"{T}/{eid}/attrs/a40000/{top}")
    assert gone.status_code == 204, gone.text[:300]
