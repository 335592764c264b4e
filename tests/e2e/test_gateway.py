"""Through the gateway to every service, over real HTTP between real processes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from mims_stack.supervisor import Stack


def test_health_lists_every_service_as_up(stack: Stack) -> None:
    resp = httpx.get(f"{stack.urls['gateway']}/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "up"
    assert set(body["services"]) == {"context-broker", "catalogue", "marketplace"}
    for name, state in body["services"].items():
        assert state == {
            "status": "up",
            "url": stack.urls[name],
            "checks": {"database": "up", "migrations": "applied"},
        }


def test_each_prefix_reaches_its_service(stack: Stack) -> None:
    gw = stack.urls["gateway"]
    with httpx.Client(base_url=gw) as client:
        eid = f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}"
        created = client.post("/ngsi-ld/v1/entities/", json={"id": eid, "type": "ParkingSpot"})
        assert created.status_code == 201
        assert client.get(f"/ngsi-ld/v1/entities/{eid}").json() == {
            "id": eid,
            "type": "ParkingSpot",
        }
        direct = httpx.get(f"{stack.urls['context-broker']}/ngsi-ld/v1/entities/{eid}")
        assert direct.status_code == 200
        ds = client.post(
            "/catalogue/v1/datasets",
            json={"title": {"en": "Spots"}, "description": {"en": "All spots"}},
        )
        assert ds.status_code == 201
        assert client.get(f"/catalogue/v1/datasets/{ds.json()['id']}").status_code == 200
        org = client.post(
            "/tmf-api/partyManagement/v5/organization",
            json={"@type": "Organization", "name": "Parko"},
        )
        assert org.status_code == 201
        listed = client.get("/tmf-api/partyManagement/v5/organization")
        assert int(listed.headers["x-total-count"]) >= 1
        # Upstream errors pass through in the upstream's own format.
        missing = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:X:none")
        assert missing.status_code == 404
        assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
        # A path no service owns is the gateway's own 404.
        nowhere = client.get("/nowhere")
        assert nowhere.status_code == 404
        assert nowhere.headers["content-type"] == "application/problem+json"


def _log_lines(path: Path) -> list[dict[str, object]]:
    """The complete JSON lines of a log another process is still writing."""
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written, or uvicorn's plain start-up text
    return out


def test_request_id_and_traceparent_reach_the_upstream(stack: Stack, stack_logs: Path) -> None:
    trace_id = uuid.uuid4().hex
    rid = f"req-{uuid.uuid4().hex[:12]}"
    headers = {"traceparent": f"00-{trace_id}-{'b7ad6b7169203331'}-01", "X-Request-ID": rid}
    resp = httpx.get(
        f"{stack.urls['gateway']}/ngsi-ld/v1/entities/urn:ngsi-ld:X:trace", headers=headers
    )
    assert resp.status_code == 404
    assert resp.headers["x-request-id"] == rid
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        hits = [
            ln
            for ln in _log_lines(stack_logs / "context-broker.log")
            if ln.get("request_id") == rid
        ]
        if hits:
            assert hits[0]["trace_id"] == trace_id
            assert hits[0]["logger"] == "mims.access"
            return
        time.sleep(0.1)
    raise AssertionError("the broker never logged the request with the gateway's request id")


def test_aggregated_openapi_holds_every_service(stack: Stack) -> None:
    doc = httpx.get(f"{stack.urls['gateway']}/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    paths = set(doc["paths"])
    assert {
        "/ngsi-ld/v1/entities",
        "/catalogue/v1/datasets",
        "/tmf-api/partyManagement/v5/organization",
        "/gateway/v1/clients",
    } <= paths
    schemas = doc["components"]["schemas"]
    assert "ContextBroker_ProblemDetails" in schemas and "Marketplace_Error" in schemas
    docs = httpx.get(f"{stack.urls['gateway']}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
