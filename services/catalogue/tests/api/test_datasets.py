"""The catalogue's dataset API and its RFC 9457 errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

PROBLEM = "application/problem+json"


def dataset(identifier: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "title": {"en": "Parking spots", "nl": "Parkeerplaatsen"},
        "description": {"en": "Live occupancy of on-street parking spots"},
        "keyword": ["parking", "mobility"],
    }
    if identifier:
        body["identifier"] = identifier
    return body


async def test_create_read_list_delete(client: httpx.AsyncClient) -> None:
    ident = f"parking-{uuid.uuid4().hex[:8]}"
    created = await client.post("/catalogue/v1/datasets", json=dataset(ident))
    assert created.status_code == 201
    record = created.json()
    assert record["id"] == ident
    assert record["uri"] == f"http://localhost:8080/catalogue/v1/datasets/{ident}"
    assert created.headers["location"] == record["uri"]
    assert record["title"] == {"en": "Parking spots", "nl": "Parkeerplaatsen"}
    assert record["issued"] and record["modified"]
    assert (await client.get(f"/catalogue/v1/datasets/{ident}")).json() == record
    page = (await client.get("/catalogue/v1/datasets", params={"limit": 1000})).json()
    assert record in page["items"] and page["total"] >= 1
    assert (await client.delete(f"/catalogue/v1/datasets/{ident}")).status_code == 204
    gone = await client.get(f"/catalogue/v1/datasets/{ident}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM
    assert gone.json() == {
        "type": "urn:mims:problem:not-found",
        "title": "Resource not found",
        "status": 404,
        "detail": f"Dataset {ident} does not exist",
        "instance": f"/catalogue/v1/datasets/{ident}",
    }


async def test_generated_identifier_and_duplicate(client: httpx.AsyncClient) -> None:
    created = (await client.post("/catalogue/v1/datasets", json=dataset())).json()
    uuid.UUID(created["id"])
    again = await client.post("/catalogue/v1/datasets", json=dataset(created["id"]))
    assert again.status_code == 409
    assert again.json()["type"] == "urn:mims:problem:already-exists"


@pytest.mark.parametrize(
    ("content", "ctype", "status", "kind"),
    [
        (b"{", "application/json", 400, "invalid-request"),
        (b'{"title": {"en": "x"}}', "application/json", 400, "bad-request-data"),
        (b'{"title": {}, "description": {"en": "d"}}', "application/json", 400, "bad-request-data"),
        (
            b'{"title": {"en": "x"}, "description": {"en": "d"}, "evil": 1}',
            "application/json",
            400,
            "bad-request-data",
        ),
        (
            b'{"title": {"en": "x"}, "description": {"en": "d"}}',
            "text/turtle",
            415,
            "unsupported-media-type",
        ),
    ],
)
async def test_bad_input(
    client: httpx.AsyncClient, content: bytes, ctype: str, status: int, kind: str
) -> None:
    before = (await client.get("/catalogue/v1/datasets")).json()["total"]
    resp = await client.post(
        "/catalogue/v1/datasets", content=content, headers={"Content-Type": ctype}
    )
    assert resp.status_code == status
    assert resp.headers["content-type"] == PROBLEM
    assert resp.json()["type"] == f"urn:mims:problem:{kind}"
    assert (await client.get("/catalogue/v1/datasets")).json()["total"] == before


async def test_bad_paging_parameters(client: httpx.AsyncClient) -> None:
    resp = await client.get("/catalogue/v1/datasets", params={"limit": "1; DROP TABLE dataset"})
    assert resp.status_code == 400
    assert resp.json()["type"] == "urn:mims:problem:invalid-request"
    assert "limit" in resp.json()["detail"]
