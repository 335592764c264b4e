"""MIM2 on the write paths: the broker reads data models from a catalogue over real HTTP
(here a stand-in serving the catalogue's data-models page), validates in warn and enforce
modes, and reports conformance."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from conftest import free_port, serve
from context_broker.app import create_app
from context_broker.datamodels.validation import SDM_DIR

BASE = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
PARKING_CTX = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
)
LINK = f'<{PARKING_CTX}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
SPOT = {
    "id": "sdm-parkingspot",
    "version": "0.1.0",
    "schema": "https://smart-data-models.github.io/dataModel.Parking/ParkingSpot/schema.json",
    "context": PARKING_CTX,
    "entityTypes": ["ParkingSpot"],
}
WASTE = {
    "id": "sdm-wastecontainer",
    "version": "0.1.0",
    "schema": "https://smart-data-models.github.io/dataModel.WasteManagement/WasteContainer/schema.json",
    "context": "https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/master/context.jsonld",
    "entityTypes": ["WasteContainer"],
}


class Catalogue:
    """Serves ``GET /catalogue/v1/data-models`` as the catalogue does (a Page of records)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = [SPOT]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(
                    {
                        "total": len(outer.records),
                        "offset": 0,
                        "limit": 1000,
                        "items": outer.records,
                    }
                ).encode()
                self.send_response(
                    200 if self.path.startswith("/catalogue/v1/data-models") else 404
                )
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.url = f"http://127.0.0.1:{free_port()}"
        self._server = ThreadingHTTPServer(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def catalogue() -> Iterator[Catalogue]:
    c = Catalogue()
    yield c
    c.close()


@pytest.fixture(scope="module")
async def broker(settings_for: Any, catalogue: Catalogue) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        "context-broker", catalogue_url=catalogue.url, models_refresh_s=0.2, notifier=False
    )
    async with serve(create_app(settings)) as c:
        yield c


def _spot(n: str, **changes: Any) -> dict[str, Any]:
    doc = json.loads(
        (SDM_DIR / "dataModel.Parking/ParkingSpot/examples/example-normalized.jsonld").read_text()
    )
    doc["id"] = f"urn:ngsi-ld:ParkingSpot:{n}-{uuid.uuid4().hex[:6]}"
    for name, value in changes.items():
        doc[name] = {"type": "Property", "value": value}
    return doc


LD = {"content-type": "application/ld+json"}


async def _mode(broker: httpx.AsyncClient, tenant: str, mode: str) -> None:
    r = await broker.put(
        "/mim2/v1/validation/ParkingSpot",
        json={"mode": mode},
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 204, r.text


async def test_models_come_from_the_catalogue(broker: httpx.AsyncClient) -> None:
    r = await broker.get("/mim2/v1/models")
    assert r.status_code == 200
    [model] = r.json()["models"]
    assert model["id"] == "sdm-parkingspot"
    assert "https://smartdatamodels.org/dataModel.Parking/ParkingSpot" in model["types"]
    assert r.json()["problem"] is None


async def test_warn_mode_accepts_and_says_why(broker: httpx.AsyncClient) -> None:
    tenant = f"w{uuid.uuid4().hex[:6]}"
    bad = _spot("warn", status="flying")
    r = await broker.post(f"{BASE}/entities", json=bad, headers={**LD, "NGSILD-Tenant": tenant})
    assert r.status_code == 201
    warning = r.headers["ngsild-warning"]
    assert warning.startswith('299 - "Entity urn:ngsi-ld:ParkingSpot:warn')
    assert "$.status" in warning
    good = await broker.post(
        f"{BASE}/entities", json=_spot("ok"), headers={**LD, "NGSILD-Tenant": tenant}
    )
    assert good.status_code == 201
    assert "ngsild-warning" not in good.headers


async def test_enforce_mode_refuses_with_each_violation_and_stores_nothing(
    broker: httpx.AsyncClient,
) -> None:
    tenant = f"e{uuid.uuid4().hex[:6]}"
    await _mode(broker, tenant, "enforce")
    bad = _spot("enforce", status="flying", width=-1)
    h = {**LD, "NGSILD-Tenant": tenant}
    r = await broker.post(f"{BASE}/entities", json=bad, headers=h)
    assert r.status_code == 400
    problem = r.json()
    assert problem["type"] == ERR + "BadRequestData"
    assert problem["dataModel"] == "sdm-parkingspot"
    assert {v["path"] for v in problem["violations"]} == {"$.status", "$.width"}
    gone = await broker.get(f"{BASE}/entities/{bad['id']}", headers={"NGSILD-Tenant": tenant})
    assert gone.status_code == 404

    good = _spot("enforce")
    assert (await broker.post(f"{BASE}/entities", json=good, headers=h)).status_code == 201
    # An update that would break the model is refused; the entity stays as it was.
    patch = {"status": {"type": "Property", "value": "flying"}}
    r = await broker.patch(
        f"{BASE}/entities/{good['id']}/attrs",
        json=patch,
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 400
    assert r.json()["violations"][0]["path"] == "$.status"
    now = await broker.get(
        f"{BASE}/entities/{good['id']}?format=keyValues",
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert now.json()["status"] == good["status"]["value"]
    # Merge and replace are checked too.
    r = await broker.patch(
        f"{BASE}/entities/{good['id']}",
        json={"width": {"type": "Property", "value": -3}},
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 400


async def test_batch_writes_fail_entity_by_entity(broker: httpx.AsyncClient) -> None:
    tenant = f"b{uuid.uuid4().hex[:6]}"
    await _mode(broker, tenant, "enforce")
    good, bad = _spot("b1"), _spot("b2", status="flying")
    r = await broker.post(
        f"{BASE}/entityOperations/create",
        json=[good, bad],
        headers={**LD, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 207
    result = r.json()
    assert result["success"] == [good["id"]]
    assert result["errors"][0]["entityId"] == bad["id"]
    assert result["errors"][0]["error"]["type"] == ERR + "BadRequestData"
    # Batch update: the invalid change is refused, the valid one is written.
    r = await broker.post(
        f"{BASE}/entityOperations/update",
        json=[
            {"id": good["id"], "status": {"type": "Property", "value": "flying"}},
            {"id": good["id"], "width": {"type": "Property", "value": 2.5}},
        ],
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 207
    now = await broker.get(
        f"{BASE}/entities/{good['id']}?format=keyValues",
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert now.json()["status"] == good["status"]["value"]
    assert now.json()["width"] == 2.5


async def test_conformance_report(broker: httpx.AsyncClient) -> None:
    tenant = f"r{uuid.uuid4().hex[:6]}"
    await _mode(broker, tenant, "off")
    h = {**LD, "NGSILD-Tenant": tenant}
    ids = []
    for doc in (_spot("r1"), _spot("r2", status="flying"), _spot("r3", status="gone")):
        r = await broker.post(f"{BASE}/entities", json=doc, headers=h)
        assert r.status_code == 201
        assert "ngsild-warning" not in r.headers  # mode off
        ids.append(doc["id"])
    r = await broker.get(
        "/mim2/v1/conformance/ParkingSpot", headers={"Link": LINK, "NGSILD-Tenant": tenant}
    )
    assert r.status_code == 200
    report = r.json()
    assert report["entities"] == 3
    assert report["conforming"] == 1
    assert report["mode"] == "off"
    status = [v for v in report["violations"] if v["path"] == "$.status"]
    assert [v["entities"] for v in status] == [1, 1]  # one message per wrong value
    assert sorted(e for v in status for e in v["examples"]) == sorted(ids[1:])
    assert all("is not one of" in v["message"] for v in status)
    unknown = await broker.get("/mim2/v1/conformance/Nothing", headers={"NGSILD-Tenant": tenant})
    assert unknown.status_code == 404


async def test_a_model_added_in_the_catalogue_applies_without_restart(
    broker: httpx.AsyncClient, catalogue: Catalogue
) -> None:
    doc = json.loads(
        (
            SDM_DIR / "dataModel.WasteManagement/WasteContainer/examples/example-normalized.jsonld"
        ).read_text()
    )
    bad = copy.deepcopy(doc)
    bad["id"] = f"urn:ngsi-ld:WasteContainer:{uuid.uuid4().hex[:6]}"
    bad["fillingLevel"] = {"type": "Property", "value": 7}  # the schema caps it at 1
    first = await broker.post(f"{BASE}/entities", json=bad, headers=LD)
    assert first.status_code == 201
    assert "ngsild-warning" not in first.headers  # no model for the type yet
    catalogue.records = [SPOT, WASTE]
    await asyncio.sleep(0.4)
    bad["id"] += "b"
    second = await broker.post(f"{BASE}/entities", json=bad, headers=LD)
    assert second.status_code == 201
    assert "$.fillingLevel" in second.headers["ngsild-warning"]


async def test_bad_mode_requests(broker: httpx.AsyncClient) -> None:
    r = await broker.put("/mim2/v1/validation/ParkingSpot", json={"mode": "strict"})
    assert r.status_code == 400
    r = await broker.put("/mim2/v1/validation/ParkingSpot", json=["enforce"])
    assert r.status_code == 400
    r = await broker.delete("/mim2/v1/validation/NeverSet")
    assert r.status_code == 404


async def test_temporal_writes_are_checked_on_the_state_they_leave(
    broker: httpx.AsyncClient,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    await _mode(broker, tenant, "enforce")
    spot = _spot("temporal")
    spot["status"] = [
        {"type": "Property", "value": "free", "observedAt": "2026-11-26T10:00:00Z"},
        {"type": "Property", "value": "flying", "observedAt": "2026-11-26T11:00:00Z"},
    ]
    h = {**LD, "NGSILD-Tenant": tenant}
    r = await broker.post(f"{BASE}/temporal/entities", json=spot, headers=h)
    assert r.status_code == 400  # the latest status, the current one, breaks the model
    assert r.json()["violations"][0]["path"] == "$.status"
    gone = await broker.get(f"{BASE}/temporal/entities/{spot['id']}", headers=h)
    assert gone.status_code == 404
    spot["status"][1]["value"] = "occupied"
    assert (await broker.post(f"{BASE}/temporal/entities", json=spot, headers=h)).status_code == 201


async def test_batch_upsert_update_is_checked_on_the_merged_entity(
    broker: httpx.AsyncClient,
) -> None:
    """Upsert with options=update appends to what is stored (5.6.8): the data model is
    checked on the entity it leaves, as Append Attributes is, not on the partial entity."""
    tenant = f"u{uuid.uuid4().hex[:6]}"
    await _mode(broker, tenant, "enforce")
    one, two = _spot("u1"), _spot("u2")
    r = await broker.post(
        f"{BASE}/entityOperations/create", json=[one, two], headers={**LD, "NGSILD-Tenant": tenant}
    )
    assert r.status_code == 201, r.text
    # Without status, category, location...: fine once appended to the stored entity.
    widen = {"id": one["id"], "type": "ParkingSpot", "width": {"type": "Property", "value": 2.7}}
    # A change that leaves an entity the model refuses: refused, nothing of it stored.
    fly = {
        "id": two["id"],
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "flying"},
    }
    new = {k: v for k, v in _spot("u3").items() if k != "@context"}  # a whole new entity
    r = await broker.post(
        f"{BASE}/entityOperations/upsert?options=update",
        json=[widen, fly, new],
        headers={"Link": LINK, "NGSILD-Tenant": tenant},
    )
    assert r.status_code == 207, r.text
    result = r.json()
    assert sorted(result["success"]) == sorted([one["id"], new["id"]])
    assert [e["entityId"] for e in result["errors"]] == [two["id"]]
    assert result["errors"][0]["error"]["type"] == ERR + "BadRequestData"

    async def stored(eid: str) -> dict[str, Any]:
        got = await broker.get(
            f"{BASE}/entities/{eid}?format=keyValues",
            headers={"Link": LINK, "NGSILD-Tenant": tenant},
        )
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    assert (await stored(one["id"]))["width"] == 2.7
    assert (await stored(one["id"]))["status"] == one["status"]["value"]
    assert (await stored(two["id"]))["status"] == two["status"]["value"]
    assert (await stored(new["id"]))["status"] == new["status"]["value"]
