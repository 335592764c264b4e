"""The reader's visible entity types (ngsild/visibility.py): the ``X-Mims-Entity-Types`` header
the gateway sets for data consumers, applied to the stored type IRIs in every read path.

The attack each test replays: a consumer entitled to ``Spot`` sends a ``Link`` @context that
maps the name ``Spot`` to the IRI of another type (``Vault``). Without the header the broker
does what NGSI-LD says and answers the vault; with it, nothing of the vault comes out.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from conftest import Receiver
from context_broker.ngsild.visibility import type_name
from mims_shared.db import libpq_url

BASE = "/ngsi-ld/v1"
GUARD = "x-mims-entity-types"
PUBLIC = "http://localhost:1026"  # the broker's public_base_url by default


@dataclass
class World:
    tenant: str
    spot_type: str  # the short name the consumer is entitled to
    spot: str
    vault: str
    remap: dict[str, str]  # headers with a Link context mapping spot_type to the vault type
    vault_type_iri: str

    def h(self, guard: str | None = None, *, remap: bool = False) -> dict[str, str]:
        out = {"NGSILD-Tenant": self.tenant}
        if guard is not None:
            out[GUARD] = guard
        if remap:
            out.update(self.remap)
        return out


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


@pytest.fixture(scope="module")
async def world(client: httpx.AsyncClient) -> World:
    tenant = f"vis{uuid.uuid4().hex[:10]}"
    tag = uuid.uuid4().hex[:6]
    spot_type, vault_iri = f"Spot{tag}", f"https://example.org/secret/Vault{tag}"
    # The consumer's own @context: the entitled name now stands for the vault's IRI.
    ctx = {"@context": {spot_type: vault_iri, "code": "https://example.org/secret/code"}}
    hosted = await client.post(
        f"{BASE}/jsonldContexts", json=ctx, headers={"NGSILD-Tenant": tenant}
    )
    assert hosted.status_code == 201, hosted.text
    link = (
        f'<{PUBLIC}{hosted.headers["location"]}>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"'
    )
    spot, vault = f"urn:ngsi-ld:Spot:{tag}", f"urn:ngsi-ld:Vault:{tag}"
    made = [
        {
            "id": spot,
            "type": spot_type,
            "status": _prop("free"),
            "near": {"type": "Relationship", "object": vault},
        },
        {"id": vault, "type": vault_iri, "https://example.org/secret/code": _prop("1234")},
    ]
    for body in made:
        r = await client.post(f"{BASE}/entities", json=body, headers={"NGSILD-Tenant": tenant})
        assert r.status_code == 201, r.text
    return World(tenant, spot_type, spot, vault, {"Link": link}, vault_iri)


async def test_sql_type_name_agrees_with_python(databases: dict[str, str]) -> None:
    cases = [
        "https://smartdatamodels.org/dataModel.Parking/ParkingSpot",
        "https://uri.etsi.org/ngsi-ld/default-context/Vault",
        "urn:example:Camera",
        "https://example.org/ns#Thing",
        "https://example.org/ns#Foo/Bar",
        "https://example.org/a/b#",
        "https://example.org/a/b/",
        "urn:a:b/",
        "a#b#c",
        "Plain",
        "",
    ]
    conn = await asyncpg.connect(libpq_url(databases["context-broker"]))
    try:
        rows = await conn.fetch("SELECT t, type_name(t) AS n FROM unnest($1::text[]) t", cases)
    finally:
        await conn.close()
    assert {r["t"]: r["n"] for r in rows} == {c: type_name(c) for c in cases}
    assert type_name("https://smartdatamodels.org/dataModel.Parking/ParkingSpot") == "ParkingSpot"


async def test_query_with_a_remapping_context_finds_nothing_hidden(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"{BASE}/entities?type={world.spot_type}"
    # Without the gateway's header the Link context selects the vault, as NGSI-LD says.
    open_ = await client.get(url, headers=world.h(remap=True))
    assert open_.status_code == 200, open_.text
    assert [e["id"] for e in open_.json()] == [world.vault]
    # With it, the vault's stored type is not entitled: nothing, and the count agrees.
    guarded = await client.get(url + "&count=true", headers=world.h(world.spot_type, remap=True))
    assert guarded.status_code == 200, guarded.text
    assert guarded.json() == []
    assert guarded.headers["ngsild-results-count"] == "0"
    # The consumer's entitled entities are still there under the core context.
    own = await client.get(url, headers=world.h(world.spot_type))
    assert [e["id"] for e in own.json()] == [world.spot]
    # q and attrs without a type, batch query, and an empty header.
    by_q = await client.get(
        f"{BASE}/entities?q=code==%221234%22", headers=world.h(world.spot_type, remap=True)
    )
    assert by_q.json() == []
    body = {"type": "Query", "entities": [{"type": world.spot_type}]}
    posted = await client.post(
        f"{BASE}/entityOperations/query", json=body, headers=world.h(world.spot_type, remap=True)
    )
    assert posted.status_code == 200 and posted.json() == []
    nothing = await client.get(url, headers=world.h(""))
    assert nothing.json() == []


async def test_retrieve_of_a_hidden_entity_is_forbidden(
    client: httpx.AsyncClient, world: World
) -> None:
    refused = await client.get(
        f"{BASE}/entities/{world.vault}", headers=world.h(world.spot_type, remap=True)
    )
    assert refused.status_code == 403, refused.text
    name = f"Vault{world.vault.rsplit(':', 1)[-1]}"
    assert refused.json()["detail"] == (
        f"The caller has no entitlement to read entity type {name} in tenant {world.tenant}"
    )
    seen = await client.get(f"{BASE}/entities/{world.spot}", headers=world.h(world.spot_type))
    assert seen.status_code == 200 and seen.json()["id"] == world.spot
    # Several names, one of them the vault's: shown.
    both = await client.get(
        f"{BASE}/entities/{world.vault}", headers=world.h(f"{world.spot_type}, {name}")
    )
    assert both.status_code == 200


async def test_linked_entities_outside_the_view_are_left_out(
    client: httpx.AsyncClient, world: World
) -> None:
    url = f"{BASE}/entities/{world.spot}?join=inline&joinLevel=1"
    full = await client.get(url, headers=world.h())
    assert full.json()["near"]["entity"]["id"] == world.vault
    guarded = await client.get(url, headers=world.h(world.spot_type))
    assert guarded.status_code == 200
    assert "entity" not in guarded.json()["near"]
    flat = await client.get(
        f"{BASE}/entities?type={world.spot_type}&join=flat&joinLevel=1",
        headers=world.h(world.spot_type),
    )
    assert [e["id"] for e in flat.json()] == [world.spot]


async def test_temporal_reads_apply_the_view(client: httpx.AsyncClient, world: World) -> None:
    url = (
        f"{BASE}/temporal/entities?type={world.spot_type}&timerel=after&timeAt=2000-01-01T00:00:00Z"
    )
    open_ = await client.get(url, headers=world.h(remap=True))
    assert [e["id"] for e in open_.json()] == [world.vault]
    guarded = await client.get(url, headers=world.h(world.spot_type, remap=True))
    assert guarded.status_code == 200 and guarded.json() == []
    one = await client.get(
        f"{BASE}/temporal/entities/{world.vault}", headers=world.h(world.spot_type)
    )
    assert one.status_code == 403


async def test_subscriptions_notify_only_visible_entities(
    client: httpx.AsyncClient, world: World, receiver: Receiver
) -> None:
    def sub(path: str) -> dict[str, Any]:
        return {
            "type": "Subscription",
            "entities": [{"type": world.spot_type}],
            "notification": {"endpoint": {"uri": f"{receiver.url}{path}"}},
        }

    async def subscribe(path: str, headers: dict[str, str]) -> str:
        made = await client.post(f"{BASE}/subscriptions", json=sub(path), headers=headers)
        assert made.status_code == 201, made.text
        return str(made.headers["location"].rsplit("/", 1)[-1])

    async def change(eid: str, attr: str, value: str) -> None:
        r = await client.patch(
            f"{BASE}/entities/{eid}/attrs", json={attr: _prop(value)}, headers=world.h()
        )
        assert r.status_code == 204, r.text

    code = "https://example.org/secret/code"
    # The consumer, remapping: its subscription selects the vault's IRI, yet sees no vault.
    sneaky = await subscribe("/sneaky", world.h(world.spot_type, remap=True))
    # The consumer under the core context: its own entitled type is notified.
    own = await subscribe("/own", world.h(world.spot_type))
    # The provider's subscription (no header), to prove the vault's change is notified.
    control = await subscribe("/control", world.h(remap=True))
    await change(world.vault, code, "9999")
    await change(world.spot, "status", "taken")
    [seen] = await receiver.received(1, "/control")
    assert seen["data"][0]["id"] == world.vault
    [mine] = await receiver.received(1, "/own")
    assert mine["data"][0]["id"] == world.spot
    await asyncio.sleep(0.3)
    assert receiver.bodies("/sneaky") == []
    # Another party's subscription (its endpoint, its receiverInfo) is out of a consumer's
    # reach: not listed, not shown, not changed, not deleted.
    consumer = {**world.h(world.spot_type), "X-Mims-Subject": "client-a"}
    other = {**world.h(world.spot_type), "X-Mims-Subject": "client-b"}
    mine = await subscribe("/mine", consumer)
    listed = await client.get(f"{BASE}/subscriptions?count=true", headers=consumer)
    assert [x["id"] for x in listed.json()] == [mine]
    assert listed.headers["ngsild-results-count"] == "1"
    everyone = await client.get(f"{BASE}/subscriptions", headers=world.h())
    assert {mine, sneaky, own, control} <= {x["id"] for x in everyone.json()}
    redirect = {"notification": {"endpoint": {"uri": f"{receiver.url}/sneaky"}}}
    for sid in (control, mine):
        url = f"{BASE}/subscriptions/{sid}"
        assert (await client.get(url, headers=other)).status_code == 404
        assert (await client.patch(url, json=redirect, headers=other)).status_code == 404
        assert (await client.delete(url, headers=other)).status_code == 404
    assert (await client.get(f"{BASE}/subscriptions/{mine}", headers=consumer)).status_code == 200
    await change(world.vault, code, "0000")
    await asyncio.sleep(0.5)
    assert receiver.bodies("/sneaky") == []
    assert (
        await client.delete(f"{BASE}/subscriptions/{mine}", headers=consumer)
    ).status_code == 204
    for s in (sneaky, own, control):
        gone = await client.delete(f"{BASE}/subscriptions/{s}", headers=world.h())
        assert gone.status_code == 204


async def test_a_subscription_ends_with_the_entitlements_behind_it(
    client: httpx.AsyncClient, world: World, receiver: Receiver
) -> None:
    sub = {
        "type": "Subscription",
        "entities": [{"type": world.spot_type}],
        "notification": {"endpoint": {"uri": f"{receiver.url}/n"}},
    }

    async def subscribe(path: str, until: str) -> str:
        body = {**sub, "notification": {"endpoint": {"uri": f"{receiver.url}{path}"}}}
        headers = {**world.h(world.spot_type), "X-Mims-Entitled-Until": until}
        made = await client.post(f"{BASE}/subscriptions", json=body, headers=headers)
        assert made.status_code == 201, made.text
        return str(made.headers["location"].rsplit("/", 1)[-1])

    ended = await subscribe("/ended", "2001-01-01T00:00:00Z")
    running = await subscribe("/running", "2999-01-01T00:00:00Z")
    status = await client.get(f"{BASE}/subscriptions/{ended}", headers=world.h())
    assert status.json()["status"] == "expired"
    assert "expiresAt" not in status.json()  # the subscriber's own expiresAt is untouched
    r = await client.patch(
        f"{BASE}/entities/{world.spot}/attrs", json={"status": _prop("free")}, headers=world.h()
    )
    assert r.status_code == 204
    await receiver.received(1, "/running")
    await asyncio.sleep(0.3)
    assert receiver.bodies("/ended") == []
    bad = await client.post(
        f"{BASE}/subscriptions",
        json=sub,
        headers={**world.h(world.spot_type), "X-Mims-Entitled-Until": "soon"},
    )
    assert bad.status_code == 400
    for s in (ended, running):
        assert (
            await client.delete(f"{BASE}/subscriptions/{s}", headers=world.h())
        ).status_code == 204


async def test_discovery_names_only_what_the_reader_may_see(
    client: httpx.AsyncClient, world: World
) -> None:
    """Types and attributes (5.7.5-5.7.10) of hidden entities are, for a limited reader,
    types and attributes no entity has."""
    vault_name = f"Vault{world.vault.rsplit(':', 1)[-1]}"
    code = "https://example.org/secret/code"

    async def get(path: str, guard: str | None) -> httpx.Response:
        return await client.get(f"{BASE}{path}", headers=world.h(guard))

    everything = (await get("/types", None)).json()["typeList"]
    assert world.spot_type in everything and any(vault_name in t for t in everything)
    limited = (await get("/types", world.spot_type)).json()["typeList"]
    assert limited == [world.spot_type]
    details = (await get("/types?details=true", world.spot_type)).json()
    assert [d["typeName"] for d in details] == [world.spot_type]
    assert (await get(f"/types/{world.spot_type}", world.spot_type)).status_code == 200
    hidden_type = await get(f"/types/{quote(world.vault_type_iri, safe='')}", world.spot_type)
    assert hidden_type.status_code == 404
    assert (await get(f"/types/{quote(world.vault_type_iri, safe='')}", None)).status_code == 200

    attrs = (await get("/attributes", world.spot_type)).json()["attributeList"]
    assert "status" in attrs and code not in attrs
    assert code in (await get("/attributes", None)).json()["attributeList"]
    attr_details = (await get("/attributes?details=true", world.spot_type)).json()
    assert all(a["typeNames"] == [world.spot_type] for a in attr_details)
    hidden_attr = await get(f"/attributes/{quote(code, safe='')}", world.spot_type)
    assert hidden_attr.status_code == 404
    near = (await get("/attributes/near", world.spot_type)).json()
    assert near["typeNames"] == [world.spot_type] and near["attributeCount"] == 1
    # An empty header: nothing is visible.
    assert (await get("/types", "")).json()["typeList"] == []
