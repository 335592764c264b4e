"""TMF632 organizations and the TMF Error format."""

from __future__ import annotations

import httpx
import pytest

BASE = "/tmf-api/partyManagement/v5/organization"


async def test_create_retrieve_list_delete(client: httpx.AsyncClient) -> None:
    created = await client.post(
        BASE,
        json={
            "@type": "Organization",
            "name": "Parko BV",
            "tradingName": "Parko",
            "isLegalEntity": True,
        },
    )
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["@type"] == "Organization" and org["name"] == "Parko BV"
    assert org["href"] == f"http://localhost:8080{BASE}/{org['id']}"
    assert created.headers["location"] == org["href"]
    assert (await client.get(f"{BASE}/{org['id']}")).json() == org
    only = await client.get(f"{BASE}/{org['id']}", params={"fields": "name"})
    assert only.json() == {
        "id": org["id"],
        "href": org["href"],
        "@type": "Organization",
        "name": "Parko BV",
    }
    listed = await client.get(BASE, params={"limit": 1000})
    assert org in listed.json()
    assert int(listed.headers["x-result-count"]) == len(listed.json())
    assert int(listed.headers["x-total-count"]) >= len(listed.json())
    assert (await client.delete(f"{BASE}/{org['id']}")).status_code == 204
    gone = await client.get(f"{BASE}/{org['id']}")
    assert gone.status_code == 404
    assert gone.json() == {
        "@type": "Error",
        "code": "NotFound",
        "reason": "Resource not found",
        "message": f"Organization {org['id']} does not exist",
        "status": "404",
    }


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"name": "x"}', 400, "BadRequestData"),
        (b'{"@type": "Individual", "name": "x"}', 400, "BadRequestData"),
        (b'{"@type": "Organization"}', 400, "BadRequestData"),
        (b'{"@type": "Organization", "name": "x", "status": "bogus"}', 400, "BadRequestData"),
        (b'{"@type": "Organization", "name": ', 400, "InvalidRequest"),
        (b"[]", 400, "BadRequestData"),
    ],
)
async def test_bad_input(client: httpx.AsyncClient, body: bytes, status: int, code: str) -> None:
    before = (await client.get(BASE)).headers["x-total-count"]
    resp = await client.post(BASE, content=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == status
    err = resp.json()
    assert err["@type"] == "Error" and err["code"] == code and err["status"] == str(status)
    assert err["reason"] and err["message"]
    assert (await client.get(BASE)).headers["x-total-count"] == before


async def test_unknown_id_and_wrong_media_type(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{BASE}/not-a-uuid")).status_code == 404
    resp = await client.post(
        BASE, content=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code == 415
    assert resp.json()["code"] == "UnsupportedMediaType"
