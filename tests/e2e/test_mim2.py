"""MIM2 across the stack: the Smart Data Models starter set is registered in the real
catalogue (``mims-stack load-models``), the real broker reads it from there over HTTP and
validates writes; the catalogue's broker harvest points datasets to the models."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from mims_stack.models import load
from mims_stack.supervisor import Stack

PARKING = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
)
LINK = f'<{PARKING}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def _spot(status: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:mim2-{uuid.uuid4().hex[:8]}",
        "type": "ParkingSpot",
        "category": {"type": "Property", "value": ["onStreet"]},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.3, 50.8]}},
        "status": {"type": "Property", "value": status},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:mim2"},
    }


def test_starter_models_from_the_catalogue_are_enforced_by_the_broker(stack: Stack) -> None:
    done = dict(load(stack.urls["catalogue"]))
    assert len(done) == 11
    assert set(done.values()) <= {"created", "updated"}
    again = dict(load(stack.urls["catalogue"]))  # idempotent
    assert set(again.values()) == {"updated"}

    broker = stack.urls["context-broker"]
    tenant = f"mim2{uuid.uuid4().hex[:6]}"
    h = {"Link": LINK, "NGSILD-Tenant": tenant}
    r = httpx.put(f"{broker}/mim2/v1/validation/ParkingSpot", json={"mode": "enforce"}, headers=h)
    assert r.status_code == 204
    deadline = time.monotonic() + 20  # the broker re-reads the catalogue every 10 s
    while True:
        models = httpx.get(f"{broker}/mim2/v1/models").json()["models"]
        if any(m["id"] == "sdm-parkingspot" for m in models):
            break
        assert time.monotonic() < deadline, models
        time.sleep(0.5)
    assert len(models) == 11

    bad = httpx.post(f"{broker}/ngsi-ld/v1/entities", json=_spot("flying"), headers=h)
    assert bad.status_code == 400
    assert [v["path"] for v in bad.json()["violations"]] == ["$.status"]
    good = httpx.post(f"{broker}/ngsi-ld/v1/entities", json=_spot("free"), headers=h)
    assert good.status_code == 201, good.text

    report = httpx.get(f"{broker}/mim2/v1/conformance/ParkingSpot", headers=h).json()
    assert report["entities"] == 1
    assert report["conforming"] == 1
    assert report["dataModel"]["id"] == "sdm-parkingspot"


def test_mim2_is_reachable_through_the_gateway(stack: Stack) -> None:
    r = httpx.get(f"{stack.urls['gateway']}/mim2/v1/models")
    assert r.status_code == 200
    assert "models" in r.json()
