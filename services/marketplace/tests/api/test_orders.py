"""TMF622 orders end to end: placing, the state machine, completion into TMF637 products
and entitlements, cancellation, events to a real listener, ODRL pushes to the catalogue."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

#: The recording HTTP server of the conftest (listener and catalogue stand-in).
Receiver = Any


CAT = "/tmf-api/productCatalogManagement/v5"
ORD = "/tmf-api/productOrderingManagement/v5"
INV = "/tmf-api/productInventory/v5"
PARTY = "/tmf-api/partyManagement/v5"
ENT = "/marketplace/v1/entitlements"
MERGE = {"Content-Type": "application/merge-patch+json"}

POLICY = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Offer",
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "dateTime",
                    "operator": "lt",
                    "rightOperand": "2099-01-01T00:00:00Z",
                },
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": "mobility"},
            ],
        }
    ],
    "prohibition": [{"action": "distribute"}],
}


async def make_party(client: httpx.AsyncClient) -> str:
    org = await client.post(f"{PARTY}/organization", json={"@type": "Organization", "name": "B"})
    return str(org.json()["id"])


async def make_offering(
    client: httpx.AsyncClient, receiver: Receiver, status: str = "Launched", **extra: Any
) -> dict[str, Any]:
    ds = f"parking-{uuid.uuid4().hex[:6]}"
    receiver.records[f"datasets/{ds}"] = {
        "id": ds,
        "uri": f"http://localhost:8080/catalogue/v1/datasets/{ds}",
        "entityTypes": ["ParkingSpot"],
    }
    body = {
        "@type": "ProductOffering",
        "name": "Parking occupancy",
        "lifecycleStatus": status,
        "dataResource": [
            {
                "id": ds,
                "@referredType": "Dataset",
                "tenant": "city",
                "entityType": ["OffStreetParking"],
            }
        ],
        "odrlPolicy": [{**POLICY, "uid": f"urn:mims:policy:{ds}"}],
        **extra,
    }
    created = await client.post(f"{CAT}/productOffering", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def order_body(offering_id: str, party: str) -> dict[str, Any]:
    return {
        "@type": "ProductOrder",
        "productOrderItem": [
            {
                "@type": "ProductOrderItem",
                "id": "1",
                "action": "add",
                "quantity": 1,
                "productOffering": {"@type": "ProductOfferingRef", "id": offering_id},
            }
        ],
        "relatedParty": [
            {
                "@type": "RelatedPartyRefOrPartyRoleRef",
                "role": "buyer",
                "partyOrPartyRole": {
                    "@type": "PartyRef",
                    "id": party,
                    "@referredType": "Organization",
                },
            }
        ],
    }


async def test_order_to_products_and_entitlements(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hub = await client.post(
        f"{INV}/hub",
        json={
            "callback": f"{receiver.url}/listener/inventory",
            "query": "eventType=ProductCreateEvent",
        },
    )
    assert hub.status_code == 201, hub.text
    order_hub = await client.post(f"{ORD}/hub", json={"callback": f"{receiver.url}/listener/ord"})
    offering = await make_offering(client, receiver)
    ds = offering["dataResource"][0]["id"]
    assert offering["dataResource"][0]["entityType"] == ["OffStreetParking", "ParkingSpot"]
    policy_uid = f"urn:mims:policy:{ds}"
    pushed = await receiver.wait_for(1, f"/catalogue/v1/datasets/{ds}/policies/")
    assert pushed[0].method == "PUT"
    assert pushed[0].path == f"/catalogue/v1/datasets/{ds}/policies/{policy_uid}"
    assert pushed[0].body["uid"] == policy_uid and pushed[0].body["@type"] == "Offer"
    assert pushed[0].body["target"] == f"http://localhost:8080/catalogue/v1/datasets/{ds}"
    assert pushed[0].body["permission"] == POLICY["permission"]
    party = await make_party(client)

    placed = await client.post(f"{ORD}/productOrder", json=order_body(offering["id"], party))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["state"] == "acknowledged" and order["creationDate"]
    url = f"{ORD}/productOrder/{order['id']}"
    early = await client.patch(url, json={"state": "completed"})
    assert early.status_code == 409 and early.json()["code"] == "Conflict"
    assert (
        "allowed next states: assessingCancellation, held, inProgress" in (early.json()["message"])
    )
    assert (await client.patch(url, json={"state": "inProgress"})).status_code == 200
    done = await client.patch(url, content=b'{"state": "completed"}', headers=MERGE)
    assert done.status_code == 200, done.text
    completed = done.json()
    assert completed["state"] == "completed" and completed["completionDate"]
    item = completed["productOrderItem"][0]
    assert item["state"] == "completed"
    product = (await client.get(f"{INV}/product/{item['product']['id']}")).json()
    assert product["status"] == "active"
    assert product["productOffering"]["id"] == offering["id"]
    assert product["productOrderItem"][0]["productOrderId"] == order["id"]
    assert product["terminationDate"] == "2099-01-01T00:00:00Z"
    mine = await client.get(f"{INV}/product", params={"productOffering.id": offering["id"]})
    assert [p["id"] for p in mine.json()] == [product["id"]]

    rights = (await client.get(ENT, params={"party": party})).json()
    assert len(rights) == 1
    right = rights[0]
    assert right["party"] == party and right["datasets"] == [ds]
    assert right["entityTypes"] == ["OffStreetParking", "ParkingSpot"]
    assert right["tenant"] == "city" and right["actions"] == ["read", "subscribe"]
    assert right["validUntil"] == "2099-01-01T00:00:00Z" and right["purpose"] == ["mobility"]
    assert right["order"]["id"] == order["id"] and right["product"]["id"] == product["id"]
    by_type = await client.get(
        ENT, params={"entityType": "ParkingSpot", "tenant": "city", "party": party}
    )
    assert [r["id"] for r in by_type.json()] == [right["id"]]
    other_tenant = await client.get(ENT, params={"party": party, "tenant": "elsewhere"})
    assert other_tenant.json() == []

    events = await receiver.wait_for(1, "/listener/inventory")
    assert events[0].body["eventType"] == "ProductCreateEvent"
    assert events[0].body["event"]["product"]["id"] == product["id"]
    order_events = await receiver.wait_for(3, "/listener/ord")
    types = [e.body["eventType"] for e in order_events]
    assert types == [
        "ProductOrderCreateEvent",
        "ProductOrderStateChangeEvent",
        "ProductOrderStateChangeEvent",
    ]
    assert order_events[-1].body["event"]["productOrder"]["state"] == "completed"

    final = await client.patch(url, json={"state": "inProgress"})
    assert final.status_code == 409
    ended = await client.patch(f"{INV}/product/{product['id']}", json={"status": "terminated"})
    assert ended.status_code == 200
    assert (await client.get(ENT, params={"party": party})).json() == []
    assert (
        len((await client.get(ENT, params={"party": party, "includeExpired": "true"})).json()) == 1
    )

    retired = await client.patch(
        f"{CAT}/productOffering/{offering['id']}", json={"lifecycleStatus": "Retired"}
    )
    assert retired.status_code == 200
    withdrawn = await receiver.wait_for(2, f"/catalogue/v1/datasets/{ds}/policies/")
    assert withdrawn[1].method == "DELETE"
    again = await client.post(f"{ORD}/productOrder", json=order_body(offering["id"], party))
    assert again.status_code == 400
    assert again.json()["message"] == (
        f"ProductOrder is not valid: ProductOffering {offering['id']} is Retired and cannot "
        "be ordered (only Launched offerings can)"
    )
    for h in (hub.json(), order_hub.json()):
        assert (
            await client.delete(h["href"].removeprefix("http://localhost:8080"))
        ).status_code == 204


async def test_bad_orders_are_refused_whole(client: httpx.AsyncClient, receiver: Receiver) -> None:
    offering = await make_offering(client, receiver)
    party = await make_party(client)
    before = (await client.get(f"{ORD}/productOrder")).headers["x-total-count"]
    good = order_body(offering["id"], party)
    cases: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "@type"},
        {**good, "productOrderItem": []},
        {**good, "productOrderItem": [{"id": "1", "action": "add"}]},
        {
            **good,
            "productOrderItem": [
                {**good["productOrderItem"][0], "productOffering": {"id": str(uuid.uuid4())}}
            ],
        },
        {**good, "productOrderItem": [good["productOrderItem"][0], good["productOrderItem"][0]]},
        {**good, "relatedParty": []},
        {
            **good,
            "relatedParty": [
                {**good["relatedParty"][0], "partyOrPartyRole": {"id": offering["id"]}}
            ],
        },
        {**good, "state": "completed"},
    ]
    for body in cases:
        resp = await client.post(f"{ORD}/productOrder", json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["@type"] == "Error"
    assert (await client.get(f"{ORD}/productOrder")).headers["x-total-count"] == before
    draft = await make_offering(client, receiver, status="In design")
    resp = await client.post(f"{ORD}/productOrder", json=order_body(draft["id"], party))
    assert resp.status_code == 400 and "is In design and cannot be ordered" in resp.text


async def test_cancellation(client: httpx.AsyncClient, receiver: Receiver) -> None:
    offering = await make_offering(client, receiver)
    party = await make_party(client)
    order = (
        await client.post(f"{ORD}/productOrder", json=order_body(offering["id"], party))
    ).json()
    cancel = await client.post(
        f"{ORD}/cancelProductOrder",
        json={
            "@type": "CancelProductOrder",
            "productOrder": {"id": order["id"]},
            "cancellationReason": "changed plans",
        },
    )
    assert cancel.status_code == 201, cancel.text
    assert cancel.json()["state"] == "done"
    got = (await client.get(f"{ORD}/productOrder/{order['id']}")).json()
    assert got["state"] == "cancelled" and got["cancellationReason"] == "changed plans"
    assert got["productOrderItem"][0]["state"] == "cancelled"
    twice = await client.post(
        f"{ORD}/cancelProductOrder",
        json={"@type": "CancelProductOrder", "productOrder": {"id": order["id"]}},
    )
    assert twice.status_code == 409
    listed = await client.get(f"{ORD}/cancelProductOrder", params={"productOrder.id": order["id"]})
    assert len(listed.json()) == 1
    unknown = await client.post(
        f"{ORD}/cancelProductOrder",
        json={"@type": "CancelProductOrder", "productOrder": {"id": str(uuid.uuid4())}},
    )
    assert unknown.status_code == 400


async def test_offering_references_are_checked(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    body = {
        "@type": "ProductOffering",
        "name": "Ghost",
        "dataResource": [{"id": "no-such-dataset", "@referredType": "Dataset"}],
    }
    resp = await client.post(f"{CAT}/productOffering", json=body)
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        "ProductOffering is not valid: dataResource[0]: Dataset no-such-dataset does not "
        "exist in the catalogue"
    )
    receiver.records["data-services/api-1"] = {"id": "api-1"}
    ok = await client.post(
        f"{CAT}/productOffering",
        json={**body, "dataResource": [{"id": "api-1", "@referredType": "DataService"}]},
    )
    assert ok.status_code == 201
    bad_policy = await client.post(
        f"{CAT}/productOffering",
        json={"@type": "ProductOffering", "name": "x", "odrlPolicy": [{"@type": "Offer"}]},
    )
    assert bad_policy.status_code == 400 and "odrlPolicy" in bad_policy.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"callback": "ftp://example.org/x"},
        {"callback": "not a url"},
        {},
        {"callback": "http://127.0.0.1:9/x", "query": "eventType=NoSuchEvent"},
        {"callback": "http://127.0.0.1:9/x", "query": "state=done"},
    ],
)
async def test_bad_hubs(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    resp = await client.post(f"{ORD}/hub", json=body)
    assert resp.status_code == 400 and resp.json()["code"] == "BadRequestData"


async def test_unknown_hub_and_retries(client: httpx.AsyncClient, receiver: Receiver) -> None:
    assert (await client.delete(f"{PARTY}/hub/{uuid.uuid4()}")).status_code == 404
    hub = (
        await client.post(f"{PARTY}/hub", json={"callback": f"{receiver.url}/listener/p"})
    ).json()
    receiver.fail_next = 2
    await client.post(
        f"{PARTY}/individual", json={"@type": "Individual", "givenName": "R", "familyName": "T"}
    )
    got = await receiver.wait_for(3, "/listener/p")
    assert [g.body["eventType"] for g in got] == ["IndividualCreateEvent"] * 3
    await client.delete(f"{PARTY}/hub/{hub['id']}")


async def test_draft_and_partial_orders(client: httpx.AsyncClient, receiver: Receiver) -> None:
    first = await make_offering(client, receiver)
    second = await make_offering(client, receiver)
    party = await make_party(client)
    body = order_body(first["id"], party)
    body["productOrderItem"].append(
        {
            "@type": "ProductOrderItem",
            "id": "2",
            "action": "add",
            "productOffering": {"@type": "ProductOfferingRef", "id": second["id"]},
        }
    )
    placed = await client.post(
        f"{ORD}/productOrder", json={**body, "requestedInitialState": "draft"}
    )
    assert placed.status_code == 201
    order = placed.json()
    assert order["state"] == "draft"
    assert [i["state"] for i in order["productOrderItem"]] == ["draft", "draft"]
    url = f"{ORD}/productOrder/{order['id']}"
    for state in ("acknowledged", "inProgress"):
        assert (await client.patch(url, json={"state": state})).status_code == 200
    items = (await client.get(url)).json()["productOrderItem"]
    swapped = [{**items[0], "productOffering": {"id": second["id"]}}, items[1]]
    refused = await client.patch(url, json={"productOrderItem": swapped})
    assert refused.status_code == 409
    marked = [{**items[0], "state": "completed"}, items[1]]
    partial = await client.patch(url, json={"productOrderItem": marked, "state": "partial"})
    assert partial.status_code == 200, partial.text
    got = partial.json()
    assert got["state"] == "partial"
    assert [i["state"] for i in got["productOrderItem"]] == ["completed", "failed"]
    assert "product" in got["productOrderItem"][0] and "product" not in got["productOrderItem"][1]
    rights = (await client.get(ENT, params={"party": party})).json()
    assert [r["datasets"] for r in rights] == [[first["dataResource"][0]["id"]]]


async def test_create_state_change_and_delete_events(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    hub = await client.post(
        f"{CAT}/hub",
        json={
            "@type": "Hub",
            "callback": f"{receiver.url}/listener/catalog",
            "query": "eventType=CategoryCreateEvent,CategoryStateChangeEvent,CategoryDeleteEvent",
        },
    )
    assert hub.status_code == 201
    assert hub.headers["location"] == hub.json()["href"]
    made = (await client.post(f"{CAT}/category", json={"@type": "Category", "name": "E"})).json()
    url = f"{CAT}/category/{made['id']}"
    await client.patch(url, json={"description": "attribute change, not subscribed"})
    await client.patch(url, json={"lifecycleStatus": "Active"})
    await client.delete(url)
    got = await receiver.wait_for(3, "/listener/catalog")
    assert [(g.method, g.body["eventType"]) for g in got] == [
        ("POST", "CategoryCreateEvent"),
        ("POST", "CategoryStateChangeEvent"),
        ("POST", "CategoryDeleteEvent"),
    ]
    assert got[1].body["event"]["category"]["lifecycleStatus"] == "Active"
    assert got[2].body["event"]["category"]["id"] == made["id"]
    assert all(g.body["eventId"] and g.body["eventTime"].endswith("Z") for g in got)
    hub_path = hub.json()["href"].removeprefix("http://localhost:8080")
    assert (await client.delete(hub_path)).status_code == 204
    assert (await client.delete(hub_path)).status_code == 404
