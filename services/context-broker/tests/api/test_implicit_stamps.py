"""Implicit instance stamps (migrations/0014_implicit_stamps.sql): an entity stored by a whole
write keeps its instances' createdAt and modifiedAt in the row's ``stamped``, not in every
instance; every reader still sees each instance's stamps (ETSI GS CIM 009 V1.8.1, 4.8
system attributes; 5.7.1 ``options=sysAttrs``; 4.9 ``q`` on ``attr.modifiedAt``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from conftest import Receiver
from context_broker.ngsild.attributes import fill_stamps
from mims_shared.db import libpq_url

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
UPSERT = "/ngsi-ld/v1/entityOperations/upsert"
STATUS = "https://uri.etsi.org/ngsi-ld/default-context/status"
CORE = "https://uri.etsi.org/ngsi-ld/"


@pytest.fixture(scope="module")
async def db(databases: dict[str, str]) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(libpq_url(databases["context-broker"]))
    yield conn
    await conn.close()


def spot(eid: str, status: str = "free") -> dict[str, Any]:
    return {
        "id": eid,
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": status},
        "lanes": [
            {"type": "Property", "value": 1, "datasetId": "urn:ngsi-ld:Dataset:a"},
            {"type": "Property", "value": 2},
        ],
        "speed": {
            "type": "Property",
            "value": 10,
            "accuracy": {"type": "Property", "value": 0.5},  # a sub-attribute
        },
    }


def new_id() -> str:
    return f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"


async def stored(db: asyncpg.Connection, eid: str) -> tuple[dict[str, Any], str | None]:
    row = await db.fetchrow("SELECT attrs::text, stamped FROM entity WHERE id = $1", eid)
    assert row is not None
    return orjson.loads(row["attrs"]), row["stamped"]


def instances(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for v in attrs.values() for i in (v if isinstance(v, list) else [v])]


async def test_a_created_entity_stores_its_stamps_once(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    eid = new_id()
    assert (await client.post(E, json=spot(eid))).status_code == 201
    attrs, stamped = await stored(db, eid)
    assert stamped is not None and stamped.endswith("Z")
    plain = [i for i in instances(attrs) if "accuracy" not in str(i)]
    assert len(plain) == 3 and all("createdAt" not in i and "modifiedAt" not in i for i in plain)
    # An instance with sub-attributes keeps its own stamps, and so do they.
    speed = attrs["https://uri.etsi.org/ngsi-ld/default-context/speed"]
    assert speed["modifiedAt"] == stamped
    assert speed["https://uri.etsi.org/ngsi-ld/default-context/accuracy"]["createdAt"] == stamped

    body = (await client.get(f"{E}/{eid}", params={"options": "sysAttrs"})).json()
    assert body["createdAt"] == stamped
    for name in ("status", "speed"):
        assert body[name]["createdAt"] == body[name]["modifiedAt"] == stamped
    assert [(i["createdAt"], i["modifiedAt"]) for i in body["lanes"]] == [(stamped, stamped)] * 2
    # Without sysAttrs, no stamp shows.
    plain_body = (await client.get(f"{E}/{eid}")).json()
    assert "createdAt" not in plain_body["status"] and "modifiedAt" not in plain_body["lanes"][0]


async def test_a_partial_update_keeps_the_other_stamps(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    eid = new_id()
    assert (await client.post(E, json=spot(eid))).status_code == 201
    _, created = await stored(db, eid)
    await asyncio.sleep(0.01)
    patch = {"status": {"type": "Property", "value": "occupied"}}
    assert (await client.patch(f"{E}/{eid}/attrs", json=patch)).status_code == 204
    body = (await client.get(f"{E}/{eid}", params={"options": "sysAttrs"})).json()
    assert body["status"]["createdAt"] == created
    assert body["status"]["modifiedAt"] > created
    assert body["lanes"][0]["modifiedAt"] == created == body["speed"]["modifiedAt"]


async def test_q_on_an_instance_stamp_reads_the_implicit_ones(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    kind = f"Stamped{uuid.uuid4().hex[:8]}"
    old, new = new_id(), new_id()
    for eid in (old, new):
        assert (await client.post(E, json={**spot(eid), "type": kind})).status_code == 201
        await asyncio.sleep(0.01)
    _, cut = await stored(db, new)
    for q, expected in (
        (f'status.modifiedAt>="{cut}"', [new]),
        (f'status.createdAt<"{cut}"', [old]),
        (f'status.modifiedAt>="{cut}";status=="free"', [new]),
        ('status.modifiedAt>"2000-01-01T00:00:00Z"', sorted([old, new])),
    ):
        resp = await client.get(E, params={"type": kind, "q": q})
        assert resp.status_code == 200, resp.text
        assert sorted(e["id"] for e in resp.json()) == expected, q


async def test_an_upsert_of_the_same_values_is_recorded_again(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The history of an update compares instances with their stamps (migration 0014): the
    same values written again by a replacing upsert are new instances, as they were when
    each instance carried its own modifiedAt."""
    eid = new_id()
    headers = {"Content-Type": "application/json"}
    body = orjson.dumps([spot(eid)])
    assert (await client.post(UPSERT, content=body, headers=headers)).status_code == 201
    await asyncio.sleep(0.01)
    assert (await client.post(UPSERT, content=body, headers=headers)).status_code == 204
    history = (await client.get(f"{T}/{eid}")).json()
    assert [i["value"] for i in history["status"]] == ["free", "free"]
    assert sorted(i["value"] for i in history["lanes"]) == [1, 1, 2, 2]


async def test_a_notification_shows_the_implicit_stamps(
    client: httpx.AsyncClient, db: asyncpg.Connection, receiver: Receiver
) -> None:
    """The change capture fills the stamps in (migration 0014): a subscription with
    ``sysAttrs`` is sent each instance's, for a create and for an update."""
    eid = new_id()
    kind = f"Notified{uuid.uuid4().hex[:8]}"
    sub = {
        "type": "Subscription",
        "entities": [{"type": kind}],
        "notification": {"endpoint": {"uri": f"{receiver.url}/n"}, "sysAttrs": True},
    }
    resp = await client.post("/ngsi-ld/v1/subscriptions", json=sub)
    assert resp.status_code == 201, resp.text
    try:
        assert (await client.post(E, json={**spot(eid), "type": kind})).status_code == 201
        _, stamped = await stored(db, eid)
        [first] = await receiver.received(1, "/n")
        [entity] = first["data"]
        assert entity["status"]["createdAt"] == entity["status"]["modifiedAt"] == stamped
        assert [i["modifiedAt"] for i in entity["lanes"]] == [stamped, stamped]

        patch = {"status": {"type": "Property", "value": "occupied"}}
        assert (await client.patch(f"{E}/{eid}/attrs", json=patch)).status_code == 204
        [_, second] = await receiver.received(2, "/n")
        [entity] = second["data"]
        assert entity["status"]["createdAt"] == stamped < entity["status"]["modifiedAt"]
        assert entity["speed"]["modifiedAt"] == stamped
    finally:
        await client.delete(
            f"/ngsi-ld/v1/subscriptions/{resp.headers['Location'].rsplit('/', 1)[-1]}"
        )


async def test_sql_and_python_fill_the_same_stamps(db: asyncpg.Connection) -> None:
    """entity_attrs_stamped (SQL: triggers, q) and fill_stamps (the broker's reads) agree,
    on every shape an attribute is stored in."""
    at, own = "2026-11-27T10:00:00.123Z", "2026-01-01T00:00:00.000Z"
    doc = {
        "a": {"type": "Property", "value": 1},
        "b": [
            {"type": "Property", "value": 1, "datasetId": "urn:x:1"},
            {"type": "Property", "value": 2, "createdAt": own, "modifiedAt": own},
        ],
        "c": {
            "type": "Property",
            "value": {"nested": {"modifiedAt": "not a stamp"}},
            "createdAt": own,
            "modifiedAt": own,
            "https://example.org/sub": {"type": "Property", "value": 3, "modifiedAt": own},
        },
        "d": {"type": "Relationship", "object": "urn:x:2", "observedAt": own},
    }
    sql = "SELECT entity_attrs_stamped($1::text::jsonb, $2)::text"
    filled = orjson.loads(await db.fetchval(sql, orjson.dumps(doc).decode(), at))
    assert filled == fill_stamps(orjson.loads(orjson.dumps(doc)), at)
    assert filled["a"]["createdAt"] == filled["a"]["modifiedAt"] == at
    assert [i["modifiedAt"] for i in filled["b"]] == [at, own]
    assert filled["c"] == doc["c"] and filled["d"]["modifiedAt"] == at
    same = orjson.loads(await db.fetchval(sql, orjson.dumps(doc).decode(), None))
    assert same == doc
    assert orjson.loads(await db.fetchval(sql, "{}", at)) == {}
