"""Subscriptions and notifications end to end (ETSI GS CIM 009 V1.8.1, 5.8 and 5.11): the
broker app with its notifier, a real PostgreSQL, real HTTP receivers and the real Mosquitto
broker of the machine."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiomqtt
import httpx
import pytest

from conftest import Receiver

BASE = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
CTX = {"Parking": "https://example.org/mims/Parking", "name": "https://schema.org/name"}


def _type() -> str:
    """A type of its own per test, so that tests never see each other's entities."""
    return f"Spot{uuid.uuid4().hex[:8]}"


def _sub(kind: str, uri: str, **extra: Any) -> dict[str, Any]:
    note = extra.pop("notification", {})
    endpoint = note.pop("endpoint", {})
    return {
        "type": "Subscription",
        "entities": [{"type": kind}],
        "notification": {"endpoint": {"uri": uri, **endpoint}, **note},
        **extra,
    }


async def _subscribe(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> str:
    r = await client.post(f"{BASE}/subscriptions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.headers["location"].rsplit("/", 1)[-1])


async def _create(client: httpx.AsyncClient, kind: str, n: int, **attrs: Any) -> str:
    eid = f"urn:ngsi-ld:{kind}:{n}"
    body = {"id": eid, "type": kind, **attrs}
    r = await client.post(f"{BASE}/entities", json=body)
    assert r.status_code == 201, r.text
    return eid


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


# --- CRUD ------------------------------------------------------------------------------
async def test_create_retrieve_update_query_delete(client: httpx.AsyncClient) -> None:
    kind = _type()
    sid = f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    body = _sub(kind, "http://127.0.0.1:9/notify", id=sid, watchedAttributes=["status"])
    assert await _subscribe(client, body) == sid

    got = await client.get(f"{BASE}/subscriptions/{sid}")
    assert got.status_code == 200
    doc = got.json()
    assert doc["id"] == sid
    assert doc["status"] == "active"
    assert doc["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert doc["watchedAttributes"] == ["status"]
    assert got.headers["link"].startswith(f"<{CORE}>")

    again = await client.post(f"{BASE}/subscriptions", json=body)
    assert again.status_code == 409
    assert again.json()["type"] == ERR + "AlreadyExists"

    paused = await client.patch(f"{BASE}/subscriptions/{sid}", json={"isActive": False})
    assert paused.status_code == 204
    doc = (await client.get(f"{BASE}/subscriptions/{sid}?options=sysAttrs")).json()
    assert doc["status"] == "paused"
    assert doc["createdAt"] <= doc["modifiedAt"]

    listed = await client.get(f"{BASE}/subscriptions?limit=1000&count=true")
    assert listed.status_code == 200
    assert sid in [s["id"] for s in listed.json()]
    assert int(listed.headers["ngsild-results-count"]) >= 1

    assert (await client.delete(f"{BASE}/subscriptions/{sid}")).status_code == 204
    gone = await client.get(f"{BASE}/subscriptions/{sid}")
    assert gone.status_code == 404
    assert gone.json()["type"] == ERR + "ResourceNotFound"
    assert (await client.delete(f"{BASE}/subscriptions/{sid}")).status_code == 404


async def test_query_pages_carry_prev_and_next_links(client: httpx.AsyncClient) -> None:
    tenant = f"t{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        await _subscribe(client, _sub("T", "http://127.0.0.1:9/n"), **{"NGSILD-Tenant": tenant})
    page = await client.get(
        f"{BASE}/subscriptions?limit=1&offset=1", headers={"NGSILD-Tenant": tenant}
    )
    assert len(page.json()) == 1
    link = page.headers["link"]
    assert '</ngsi-ld/v1/subscriptions?limit=1&offset=0>; rel="prev"' in link
    assert '</ngsi-ld/v1/subscriptions?limit=1&offset=2>; rel="next"' in link
    # Tenants do not see each other's subscriptions.
    other = await client.get(f"{BASE}/subscriptions?count=true", headers={"NGSILD-Tenant": "x9"})
    assert other.headers["ngsild-results-count"] == "0"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"unknownMember": 1}, "Unknown member"),
        ({"notification": {"endpoint": {"uri": "not a uri"}}}, "URI"),
        ({"notification": {"endpoint": {"uri": "ftp://host/x"}}}, "http, https, mqtt"),
        ({"notification": {"endpoint": {"uri": "mqtt://host:1883"}}}, "topic"),
        ({"q": "speed>>>"}, ""),
        ({"timeInterval": 5, "watchedAttributes": ["a"]}, "timeInterval"),
        ({"throttling": -1}, "throttling"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "future"),
        ({"entities": [], "watchedAttributes": None}, "entities"),
        ({"notificationTrigger": ["whenever"]}, "notificationTrigger"),
        ({"id": "not-a-uri"}, "URI"),
        ({"notification": {"format": "pretty", "endpoint": {"uri": "http://h/n"}}}, "format"),
        ({"scopeQ": "nope"}, ""),
        ({"geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}}, ""),
    ],
)
async def test_bad_subscriptions_are_refused_and_not_stored(
    client: httpx.AsyncClient, change: dict[str, Any], why: str
) -> None:
    tenant = f"bad{uuid.uuid4().hex[:8]}"
    body = {**_sub("T", "http://127.0.0.1:9/n"), **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = await client.post(f"{BASE}/subscriptions", json=body, headers={"NGSILD-Tenant": tenant})
    assert r.status_code == 400, r.text
    assert r.json()["type"] == ERR + "BadRequestData"
    assert why in r.json()["detail"]
    count = await client.get(f"{BASE}/subscriptions?count=true", headers={"NGSILD-Tenant": tenant})
    assert count.headers["ngsild-results-count"] == "0"


async def test_malformed_bodies_get_problem_details(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{BASE}/subscriptions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["type"] == ERR + "InvalidRequest"
    r = await client.post(
        f"{BASE}/subscriptions", content=b"<xml/>", headers={"content-type": "application/xml"}
    )
    assert r.status_code == 415
    r = await client.get(f"{BASE}/subscriptions/not-a-uri")
    assert r.status_code == 400


async def test_update_refuses_a_fragment_that_breaks_the_subscription(
    client: httpx.AsyncClient,
) -> None:
    sid = await _subscribe(client, _sub("T", "http://127.0.0.1:9/n"))
    before = (await client.get(f"{BASE}/subscriptions/{sid}")).json()
    for fragment in (
        {"notification": {"format": "keyValues"}},  # replaces notification: no endpoint
        {"entities": None},  # neither entities nor watchedAttributes left
        {"expiresAt": "2001-01-01T00:00:00Z"},
        {"id": "urn:ngsi-ld:Subscription:other"},
        # Names that are not strings (these were 500s: only strings can be renamed).
        {"watchedAttributes": [1]},
        {"watchedAttributes": ["a", {"b": 1}]},
        {"notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}, "attributes": [None]}},
        # A member compared with a set of values that is no string (unhashable: 500s).
        {"notification": {"endpoint": {"uri": "http://127.0.0.1:9/n", "accept": {}}}},
        {"notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}, "format": ["x"]}},
    ):
        r = await client.patch(f"{BASE}/subscriptions/{sid}", json=fragment)
        assert r.status_code == 400, (fragment, r.text)
    assert (await client.get(f"{BASE}/subscriptions/{sid}")).json() == before
    missing = await client.patch(f"{BASE}/subscriptions/urn:x:nope", json={"isActive": True})
    assert missing.status_code == 404


async def test_names_are_shown_in_the_readers_context(client: httpx.AsyncClient) -> None:
    body = {**_sub("Parking", "http://127.0.0.1:9/n", watchedAttributes=["name"]), "@context": CTX}
    r = await client.post(
        f"{BASE}/subscriptions", json=body, headers={"content-type": "application/ld+json"}
    )
    assert r.status_code == 201
    sid = r.headers["location"].rsplit("/", 1)[-1]
    plain = (await client.get(f"{BASE}/subscriptions/{sid}")).json()
    # Read with the core context only, the names are the expanded IRIs.
    assert plain["entities"] == [{"type": "https://example.org/mims/Parking"}]
    assert plain["watchedAttributes"] == ["https://schema.org/name"]
    # The inline @context was hosted as ImplicitlyCreated (5.13.1).
    listed = await client.get(f"{BASE}/jsonldContexts?details=true&kind=ImplicitlyCreated")
    assert any(c["kind"] == "ImplicitlyCreated" for c in listed.json())


# --- notifications ----------------------------------------------------------------------
async def test_notification_on_watched_change_matching_q(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    sid = await _subscribe(
        client,
        _sub(
            kind,
            f"{receiver.url}/n",
            watchedAttributes=["status"],
            q="width>2",
            notification={"endpoint": {"receiverInfo": [{"key": "X-Api-Key", "value": "k1"}]}},
        ),
    )
    wide = await _create(client, kind, 1, width=_prop(2.5), status=_prop("free"))
    narrow = await _create(client, kind, 2, width=_prop(1.5), status=_prop("free"))
    [created] = await receiver.received(1, "/n")
    assert created["subscriptionId"] == sid
    assert created["type"] == "Notification"
    assert created["triggerReason"] == "attributeCreated"
    assert [e["id"] for e in created["data"]] == [wide]
    assert created["data"][0]["status"] == {"type": "Property", "value": "free"}

    # An unwatched attribute changes: nothing; a watched one: notified (q still holds).
    for eid in (wide, narrow):
        r = await client.patch(f"{BASE}/entities/{eid}/attrs", json={"width": _prop(3)})
        assert r.status_code == 204
    r = await client.patch(f"{BASE}/entities/{wide}/attrs", json={"status": _prop("taken")})
    assert r.status_code == 204
    _, updated = await receiver.received(2, "/n")
    assert updated["triggerReason"] == "attributeUpdated"
    assert updated["data"][0]["status"]["value"] == "taken"
    headers = receiver.headers("/n")[1]
    assert headers["X-Api-Key"] == "k1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Link"].startswith(f"<{CORE}>")
    await asyncio.sleep(0.3)
    assert len(receiver.bodies("/n")) == 2  # nothing for the narrow one, nor for width

    for _ in range(100):  # the outcome is recorded just after the receiver answered
        status = (await client.get(f"{BASE}/subscriptions/{sid}")).json()["notification"]
        if "lastSuccess" in status and status["timesSent"] == 2:
            break
        await asyncio.sleep(0.05)
    assert status["timesSent"] == 2
    assert status["status"] == "ok"
    assert "lastSuccess" in status


async def test_show_changes_deletions_and_entity_deleted(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    await _subscribe(
        client,
        _sub(
            kind,
            f"{receiver.url}/c",
            notificationTrigger=["attributeUpdated", "attributeDeleted", "entityDeleted"],
            notification={"showChanges": True},
        ),
    )
    eid = await _create(
        client, kind, 1, name=_prop("Old"), owner={"type": "Relationship", "object": "urn:x:o"}
    )
    await client.patch(f"{BASE}/entities/{eid}/attrs", json={"name": _prop("New")})
    await client.delete(f"{BASE}/entities/{eid}/attrs/owner")
    await client.delete(f"{BASE}/entities/{eid}")
    updated, deleted_attr, deleted = await receiver.received(3, "/c")
    assert updated["data"][0]["name"] == {
        "type": "Property",
        "value": "New",
        "previousValue": "Old",
    }
    assert deleted_attr["triggerReason"] == "attributeDeleted"
    assert deleted_attr["data"][0]["owner"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:null",
        "previousObject": "urn:x:o",
    }
    assert deleted["triggerReason"] == "entityDeleted"
    entity = deleted["data"][0]
    assert entity["id"] == eid
    assert "deletedAt" in entity
    assert entity["name"]["value"] == "urn:ngsi-ld:null"
    assert entity["name"]["previousValue"] == "New"


async def test_formats_attributes_json_ld_and_tenant(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    tenant = f"city{uuid.uuid4().hex[:6]}"
    body = _sub(
        kind,
        f"{receiver.url}/kv",
        notificationTrigger=["entityCreated"],
        notification={
            "format": "keyValues",
            "attributes": ["name"],
            "endpoint": {"accept": "application/ld+json"},
        },
    )
    await _subscribe(client, body, **{"NGSILD-Tenant": tenant})
    r = await client.post(
        f"{BASE}/entities",
        json={"id": f"urn:ngsi-ld:{kind}:1", "type": kind, "name": _prop("A"), "x": _prop(1)},
        headers={"NGSILD-Tenant": tenant},
    )
    assert r.status_code == 201
    # Another tenant's entity of the same type is not notified.
    await _create(client, kind, 2, name=_prop("B"))
    [note] = await receiver.received(1, "/kv")
    assert note["triggerReason"] == "entityCreated"
    assert note["data"] == [
        {"id": f"urn:ngsi-ld:{kind}:1", "type": kind, "name": "A", "@context": CORE}
    ]
    assert note["@context"] == CORE
    headers = receiver.headers("/kv")[0]
    assert headers["Content-Type"] == "application/ld+json"
    assert headers["NGSILD-Tenant"] == tenant
    assert "Link" not in headers
    await asyncio.sleep(0.3)
    assert len(receiver.bodies("/kv")) == 1


async def test_failed_delivery_is_retried_and_counted(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    receiver.statuses = [500]
    sid = await _subscribe(client, _sub(kind, f"{receiver.url}/r"))
    await _create(client, kind, 1, name=_prop("A"))
    first, second = await receiver.received(2, "/r", timeout=15)
    assert first["id"] == second["id"]  # the same notification, sent again
    for _ in range(50):
        note = (await client.get(f"{BASE}/subscriptions/{sid}")).json()["notification"]
        if note.get("status") == "ok":
            break
        await asyncio.sleep(0.05)
    assert note["timesSent"] == 2
    assert note["timesFailed"] == 1
    assert note["status"] == "ok"
    assert note["lastFailure"] <= note["lastSuccess"]


async def test_inactive_and_throttled_subscriptions(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    paused = await _subscribe(client, _sub(kind, f"{receiver.url}/p", isActive=False))
    await _subscribe(client, _sub(kind, f"{receiver.url}/t", throttling=30))
    eid = await _create(client, kind, 1, name=_prop("A"))
    await client.patch(f"{BASE}/entities/{eid}/attrs", json={"name": _prop("B")})
    [first] = await receiver.received(1, "/t")
    await asyncio.sleep(0.5)
    assert len(receiver.bodies("/t")) == 1  # the second change fell in the throttling window
    assert first["data"][0]["name"]["value"] == "A"
    assert receiver.bodies("/p") == []
    await client.patch(f"{BASE}/subscriptions/{paused}", json={"isActive": True})
    await client.patch(f"{BASE}/entities/{eid}/attrs", json={"name": _prop("C")})
    [resumed] = await receiver.received(1, "/p")
    assert resumed["data"][0]["name"]["value"] == "C"


async def test_periodic_subscription_sends_current_entities(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    kind = _type()
    await _create(client, kind, 1, name=_prop("A"))
    await _subscribe(client, _sub(kind, f"{receiver.url}/tick", timeInterval=1))
    first, second = await receiver.received(2, "/tick", timeout=6)
    for note in (first, second):
        assert [e["id"] for e in note["data"]] == [f"urn:ngsi-ld:{kind}:1"]
        assert "triggerReason" not in note


async def test_mqtt_notification_reaches_mosquitto(client: httpx.AsyncClient) -> None:
    kind = _type()
    topic = f"mims/test/{uuid.uuid4().hex}"
    async with aiomqtt.Client("127.0.0.1", 1883) as mqtt:
        await mqtt.subscribe(topic, qos=1)
        await _subscribe(
            client,
            _sub(
                kind,
                f"mqtt://127.0.0.1:1883/{topic}",
                notification={
                    "endpoint": {
                        "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
                        "receiverInfo": [{"key": "X-Source", "value": "mims"}],
                    }
                },
            ),
        )
        eid = await _create(client, kind, 1, name=_prop("A"))
        async with asyncio.timeout(10):
            message = await anext(aiomqtt_messages(mqtt))
    payload = json.loads(bytes(message.payload))  # type: ignore[arg-type]
    assert message.qos == 1
    assert payload["metadata"]["X-Source"] == "mims"
    assert payload["metadata"]["Content-Type"] == "application/json"
    assert payload["body"]["data"][0]["id"] == eid


async def aiomqtt_messages(mqtt: aiomqtt.Client) -> Any:
    async for message in mqtt.messages:
        yield message


async def test_a_reload_compiles_again_only_the_subscriptions_that_changed(
    client: httpx.AsyncClient, settings_for: Any
) -> None:
    """The notifier reloads its subscriptions when any changes; each keeps what it was
    compiled to unless its definition (not its delivery counts) or @context changed."""
    from datetime import UTC, datetime

    from context_broker.contexts.service import ContextService
    from context_broker.entities.service import EntityService
    from context_broker.subscriptions import repository
    from context_broker.subscriptions.notifier import Notifier
    from mims_shared.settings import open_database

    tenant = {"NGSILD-Tenant": f"reload{uuid.uuid4().hex[:8]}"}
    kind = _type()
    uri = "http://127.0.0.1:9/notify"
    a = await _subscribe(client, _sub(kind, uri), **tenant)
    b = await _subscribe(client, _sub(kind, uri, throttling=5), **tenant)
    db = open_database(settings_for("context-broker"))
    notifier = Notifier(db, ContextService(None, allow_fetch=False, db=db), EntityService(db))
    try:

        async def compiled() -> dict[str, Any]:
            async with db.unit_of_work(transaction=False) as uow:
                await notifier._refresh(uow.connection)
            return {
                sid: live
                for (t, sid), (_, live) in notifier._compiled.items()
                if t == tenant["NGSILD-Tenant"]
            }

        first = await compiled()
        assert set(first) == {a, b}
        patched = await client.patch(
            f"{BASE}/subscriptions/{b}", json={"throttling": 7}, headers=tenant
        )
        assert patched.status_code == 204, patched.text
        later = datetime(2030, 1, 1, tzinfo=UTC)
        async with db.unit_of_work(transaction=False) as uow:  # a delivery change only
            await repository.count_sent(uow.connection, [(tenant["NGSILD-Tenant"], a, later)])
        c = await _subscribe(client, _sub(kind, uri), **tenant)
        second = await compiled()
        assert set(second) == {a, b, c}
        assert second[a] is first[a]  # unchanged definition: kept
        assert second[a].last_sent == later  # with what was sent since
        assert second[b] is not first[b] and second[b].throttling == 7  # changed: compiled again
        deleted = await client.delete(f"{BASE}/subscriptions/{c}", headers=tenant)
        assert deleted.status_code == 204
        third = await compiled()
        assert set(third) == {a, b} and third[a] is first[a] and third[b] is second[b]
    finally:
        await db.dispose()
