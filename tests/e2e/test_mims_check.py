"""The project's own CI runs ``mims-check`` (the console script) against the started stack.

Checks of features not on every branch yet (temporal API, DCAT-AP RDF and CKAN API,
TMF620/622, gateway authentication) skip by themselves when their endpoint answers 404 at
its root, or, for authentication, when no token is given; everything else must pass.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx

from mims_stack.supervisor import Stack

# Must pass against our stack today.
REQUIRED = {
    "mim1.entity-crud",
    "mim1.query-language",
    "mim1.geo-query",
    "mim1.subscriptions",
    "mim1.context",
    "mim1.errors-read",
    "mim1.errors-write",
    "mim2.entities-conform",
    "mim3.tmf632-organization",
}

SDM_PARKING = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
)


def _script() -> list[str]:
    found = shutil.which("mims-check", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "mims_check.cli"]


def test_mims_check_passes_against_the_stack(stack: Stack, tmp_path: Path) -> None:
    gw = stack.urls["gateway"]
    # A tenant of its own: the suite's other tests leave data in the default tenant. In it,
    # one Smart Data Model ParkingSpot, for MIM2 to judge.
    tenant = f"e2e{uuid.uuid4().hex[:8]}"
    spot = {
        "id": f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}",
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": "A-13"},
        "status": {"type": "Property", "value": "free"},
        "category": {"type": "Property", "value": ["onStreet"]},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:e2e"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 48]}},
        "@context": [SDM_PARKING],
    }
    created = httpx.post(
        f"{gw}/ngsi-ld/v1/entities",
        json=spot,
        headers={"Content-Type": "application/ld+json", "NGSILD-Tenant": tenant},
    )
    assert created.status_code == 201, created.text
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    start = time.monotonic()
    done = subprocess.run(
        [
            *_script(),
            "--url",
            gw,
            "--tenant",
            tenant,
            "--junit",
            str(junit),
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - start
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert elapsed < 60
    results = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    for name in REQUIRED:
        assert results[name]["status"] == "passed", results[name]
    for name, c in results.items():
        assert c["status"] in ("passed", "skipped"), c
        if c["status"] == "skipped":
            assert c["message"], f"{name} skipped without a reason"
    suites = ET.parse(junit).getroot()  # noqa: S314 (the file this test wrote)
    assert suites.tag == "testsuites"
    cases = suites.findall("testsuite/testcase")
    assert {c.get("name") for c in cases} == set(results)
    assert "passed" in done.stdout and "0 failed" in done.stdout


def test_mims_check_fails_the_job_when_a_check_fails(stack: Stack, tmp_path: Path) -> None:
    # A "broker" that is not one (the catalogue): the MIM1 checks must fail, exit status 1.
    done = subprocess.run(
        [*_script(), "--broker", stack.urls["catalogue"], "--only", "mim1.errors-read"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  mim1.errors-read" in done.stdout
