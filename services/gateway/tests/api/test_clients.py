"""The gateway's administration API: registering API clients."""

from __future__ import annotations

import logging

import httpx
import pytest

ADMIN = {"Authorization": "Bearer dev-admin-token"}


async def test_register_and_read_a_client(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/gateway/v1/clients", json={"name": "parko", "roles": ["data-consumer"]}, headers=ADMIN
    )
    assert resp.status_code == 201
    created = resp.json()
    assert created["apiKey"].startswith("mims_") and len(created["apiKey"]) > 40
    assert created["keyPrefix"] == created["apiKey"][:9]
    read = await client.get(f"/gateway/v1/clients/{created['id']}", headers=ADMIN)
    assert read.status_code == 200
    assert "apiKey" not in read.json()
    assert read.json() == {k: v for k, v in created.items() if k != "apiKey"}


async def test_admin_api_needs_the_admin_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mims.audit"):
        missing = await client.post("/gateway/v1/clients", json={"name": "x"})
    assert [r.__dict__["status"] for r in caplog.records if r.name == "mims.audit"] == [401]
    assert missing.status_code == 401
    assert missing.json()["type"] == "urn:mims:problem:unauthenticated"
    wrong = await client.get("/gateway/v1/clients/x", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["type"] == "urn:mims:problem:forbidden"


async def test_bad_client_bodies(client: httpx.AsyncClient) -> None:
    bad_role = await client.post(
        "/gateway/v1/clients", json={"name": "x", "roles": ["god"]}, headers=ADMIN
    )
    assert bad_role.status_code == 400
    assert bad_role.json()["type"] == "urn:mims:problem:bad-request-data"
    unknown = await client.get(
        "/gateway/v1/clients/00000000-0000-0000-0000-000000000000", headers=ADMIN
    )
    assert unknown.status_code == 404
