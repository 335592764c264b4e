"""MIM2 validation cost on Create Entity (issue #8 goal: with validation in ``enforce`` mode,
Create stays >= 80% of Create with validation ``off``).

The Smart Data Models starter set is registered in the stack's catalogue; two tenants create
the same valid ParkingSpots (the upstream example), one with ParkingSpot in ``enforce`` mode,
one with it ``off``; same broker, same run.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from bench.loadgen import Result, run
from context_broker.datamodels.validation import SDM_DIR
from mims_stack.models import load

CTX = "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
LINK = f'<{CTX}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def _example() -> dict[str, Any]:
    path = SDM_DIR / "dataModel.Parking/ParkingSpot/examples/example-normalized.jsonld"
    doc: dict[str, Any] = json.loads(path.read_text())
    doc.pop("@context")
    return doc


def mim2_scenarios(
    host: str, broker_port: int, catalogue_url: str, duration: float, connections: int
) -> dict[str, Result]:
    load(catalogue_url)
    base = f"http://{host}:{broker_port}"
    run_id = uuid.uuid4().hex[:6]
    tenants = {"enforce": f"mim2on{run_id}", "off": f"mim2off{run_id}"}
    deadline = time.monotonic() + 30
    while not any(
        m["id"] == "sdm-parkingspot" for m in httpx.get(f"{base}/mim2/v1/models").json()["models"]
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the broker did not load the data models from the catalogue")
        time.sleep(0.5)
    for mode, tenant in tenants.items():
        r = httpx.put(
            f"{base}/mim2/v1/validation/ParkingSpot",
            json={"mode": mode},
            headers={"Link": LINK, "NGSILD-Tenant": tenant},
        )
        r.raise_for_status()
    example = _example()
    runs: dict[str, list[Result]] = {"enforce": [], "off": []}
    # A-B-B-A: each mode runs once early and once late, so that warm-up and the table's
    # growth weigh on both alike; their results are pooled.
    for mode in ("off", "enforce", "enforce", "off"):
        tenant = tenants[mode]
        headers = {"Content-Type": "application/json", "Link": LINK, "NGSILD-Tenant": tenant}
        seq = len(runs[mode])

        def create(n: int, headers: dict[str, str] = headers, tag: str = f"{mode}{seq}") -> Any:
            body = {**example, "id": f"urn:ngsi-ld:ParkingSpot:{run_id}-{tag}-{n}"}
            return "POST", "/ngsi-ld/v1/entities", headers, json.dumps(body).encode()

        runs[mode].append(
            run(host, broker_port, create, connections=connections, duration=duration / 2)
        )
    out: dict[str, Result] = {}
    for mode, results in runs.items():
        out[f"MIM2 Create ParkingSpot, validation {mode}"] = Result(
            requests=sum(r.requests for r in results),
            seconds=sum(r.seconds for r in results),
            latencies_ms=[x for r in results for x in r.latencies_ms],
            errors=sum(r.errors for r in results),
            statuses={},
        )
    return out
