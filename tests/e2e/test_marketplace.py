"""The marketplace with the real catalogue, over real HTTP between real processes.

An offering's datasets are checked against the catalogue (``GET /catalogue/v1/datasets/{id}``
answered by the catalogue service itself); a vendor then buys the offering through the
gateway, and the entitlement the gateway will enforce appears on the marketplace.
"""

from __future__ import annotations

import uuid

import httpx

from mims_stack.supervisor import Stack

CAT = "/tmf-api/productCatalogManagement/v5"
ORD = "/tmf-api/productOrderingManagement/v5"


def test_offering_datasets_are_checked_against_the_catalogue(stack: Stack) -> None:
    gw = stack.urls["gateway"]
    ds = f"parking-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=gw, timeout=10) as client:
        made = client.post(
            "/catalogue/v1/datasets",
            json={
                "identifier": ds,
                "title": {"en": "Parking occupancy"},
                "description": {"en": "Free and occupied spots, live"},
            },
        )
        assert made.status_code == 201, made.text
        ghost = client.post(
            f"{CAT}/productOffering",
            json={
                "@type": "ProductOffering",
                "name": "Ghost data",
                "dataResource": [{"id": f"{ds}-missing", "@referredType": "Dataset"}],
            },
        )
        assert ghost.status_code == 400
        assert ghost.json()["message"] == (
            f"ProductOffering is not valid: dataResource[0]: Dataset {ds}-missing does not "
            "exist in the catalogue"
        )
        offering = client.post(
            f"{CAT}/productOffering",
            json={
                "@type": "ProductOffering",
                "name": "Parking occupancy",
                "lifecycleStatus": "Launched",
                "dataResource": [
                    {"id": ds, "@referredType": "Dataset", "entityType": ["ParkingSpot"]}
                ],
            },
        )
        assert offering.status_code == 201, offering.text
        assert offering.json()["dataResource"][0]["entityType"] == ["ParkingSpot"]
        buyer = client.post(
            "/tmf-api/partyManagement/v5/organization",
            json={"@type": "Organization", "name": "Vendor BV"},
        ).json()["id"]
        order = client.post(
            f"{ORD}/productOrder",
            json={
                "@type": "ProductOrder",
                "productOrderItem": [
                    {
                        "@type": "ProductOrderItem",
                        "id": "1",
                        "action": "add",
                        "productOffering": {"id": offering.json()["id"]},
                    }
                ],
                "relatedParty": [
                    {"role": "buyer", "partyOrPartyRole": {"@type": "PartyRef", "id": buyer}}
                ],
            },
        )
        assert order.status_code == 201, order.text
        url = f"{ORD}/productOrder/{order.json()['id']}"
        for state in ("inProgress", "completed"):
            moved = client.patch(
                url,
                content=f'{{"state": "{state}"}}'.encode(),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert moved.status_code == 200, moved.text
    # Completion committed products and entitlements before answering. The gateway reads
    # entitlements from the marketplace directly (service to service, not routed publicly).
    rights = httpx.get(
        f"{stack.urls['marketplace']}/marketplace/v1/entitlements",
        params={"party": buyer, "entityType": "ParkingSpot"},
    ).json()
    assert [(r["datasets"], r["actions"], r["tenant"]) for r in rights] == [
        ([ds], ["read", "subscribe"], None)
    ]
