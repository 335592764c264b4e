"""Migration 0010 (history keyed by entity, numbered instances) moves the history recorded
before it: every instance is kept, with the instanceId it was shown with, and the broker reads,
corrects and deletes it as before."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from conftest import serve
from context_broker.app import create_app
from context_broker.settings import BrokerSettings
from mims_shared.db import database_url_for, libpq_url, maintenance_url
from mims_shared.migrations import ensure_database, migrate
from mims_stack.services import spec

T = "/ngsi-ld/v1/temporal/entities"
NAME = "https://uri.etsi.org/ngsi-ld/default-context/name"
SPEED = "https://uri.etsi.org/ngsi-ld/default-context/speed"


@pytest.fixture
async def old_database(pg_server: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database migrated up to 0009, the last migration before 0010."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(spec("context-broker").migrations.glob("*.sql")):
        if int(path.name[:4]) < 10:
            shutil.copy(path, folder / path.name)
    url = database_url_for(pg_server, f"mims_test_histmig_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    await migrate(url, folder)
    yield url
    conn = await asyncpg.connect(maintenance_url(url))
    try:
        name = url.rsplit("/", 1)[-1].split("?")[0]
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _inst(value: object, at: str) -> str:
    return json.dumps(
        {
            "type": "Property",
            "value": value,
            "createdAt": at,
            "modifiedAt": at,
        }
    )


async def test_history_recorded_before_0010_is_moved(old_database: str) -> None:
    conn = await asyncpg.connect(libpq_url(old_database))
    try:
        # Written as the broker before 0010 did: the triggers record the creation and the
        # update of one entity (tenant ""), the deletion of another (tenant "t1").
        for tenant, eid, name in (("", "urn:ngsi-ld:Car:a", "A"), ("t1", "urn:ngsi-ld:Car:b", "B")):
            await conn.execute(
                "INSERT INTO entity (tenant, id, types, attrs, created_at, modified_at) "
                "VALUES ($1, $2, $3, $4::text::jsonb, '2026-01-01T00:00:00Z', "
                "'2026-01-01T00:00:00Z')",
                tenant,
                eid,
                ["https://uri.etsi.org/ngsi-ld/default-context/Car"],
                json.dumps({NAME: json.loads(_inst(name, "2026-01-01T00:00:00Z"))}),
            )
        await conn.execute(
            "UPDATE entity SET attrs = $1::text::jsonb, modified_at = '2026-01-02T00:00:00Z' "
            "WHERE tenant = '' AND id = 'urn:ngsi-ld:Car:a'",
            json.dumps({NAME: json.loads(_inst("A2", "2026-01-02T00:00:00Z"))}),
        )
        await conn.execute("DELETE FROM entity WHERE tenant = 't1'")
        # A history row without a temporal_entity row cannot be read: it is not moved.
        await conn.execute(
            "INSERT INTO attr_instance (tenant, entity_id, attr, at, created_at, modified_at, "
            "inst) VALUES ('', 'urn:ngsi-ld:Car:orphan', $1, now(), now(), now(), '{}')",
            NAME,
        )
        before = {
            (r["tenant"], r["entity_id"], str(r["instance_id"])): r
            for r in await conn.fetch("SELECT * FROM attr_instance")
        }
        assert len(before) == 5
    finally:
        await conn.close()

    await migrate(old_database, spec("context-broker").migrations)

    conn = await asyncpg.connect(libpq_url(old_database))
    try:
        rows = await conn.fetch(
            "SELECT t.tenant, t.id, a.* FROM attr_instance a "
            "JOIN temporal_entity t ON t.key = a.entity_key"
        )
        assert await conn.fetchval("SELECT count(*) FROM attr_instance") == 4
        for r in rows:
            old = before[(r["tenant"], r["id"], str(r["legacy_id"]))]
            for column in ("attr", "at", "created_at", "modified_at", "deleted_at", "num"):
                assert r[column] == old[column], column
            stamps = ("createdAt", "modifiedAt")
            kept = {k: v for k, v in json.loads(old["inst"]).items() if k not in stamps}
            assert json.loads(r["inst"]) == kept
    finally:
        await conn.close()

    settings = BrokerSettings(  # type: ignore[call-arg]
        database_url=old_database, access_log=False, environment="test"
    )
    async with serve(create_app(settings)) as client:
        await _read_and_change(client)


async def _read_and_change(client: httpx.AsyncClient) -> None:
    a = (await client.get(f"{T}/urn:ngsi-ld:Car:a", params={"options": "sysAttrs"})).json()
    assert [i["value"] for i in a["name"]] == ["A", "A2"]
    assert [i["createdAt"] for i in a["name"]] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
    legacy = a["name"][0]["instanceId"]
    assert uuid.UUID(legacy.removeprefix("urn:ngsi-ld:Instance:"))
    b = (await client.get(f"{T}/urn:ngsi-ld:Car:b", headers={"NGSILD-Tenant": "t1"})).json()
    assert [i.get("value") for i in b["name"]] == ["B", "urn:ngsi-ld:null"]
    assert "deletedAt" in b["name"][1]

    # New instances are numbered; old and new are corrected and deleted by their ids.
    more = {"speed": [{"type": "Property", "value": 50, "observedAt": "2026-01-03T00:00:00Z"}]}
    assert (await client.post(f"{T}/urn:ngsi-ld:Car:a/attrs", json=more)).status_code == 204
    a = (await client.get(f"{T}/urn:ngsi-ld:Car:a")).json()
    numbered = a["speed"][0]["instanceId"]
    assert numbered.removeprefix("urn:ngsi-ld:Instance:").isdigit()
    assert a["name"][0]["instanceId"] == legacy
    url = f"{T}/urn:ngsi-ld:Car:a/attrs/name/{legacy}"
    assert (await client.patch(url, json={"type": "Property", "value": "A0"})).status_code == 204
    a = (await client.get(f"{T}/urn:ngsi-ld:Car:a")).json()
    assert (a["name"][0]["value"], a["name"][0]["instanceId"]) == ("A0", legacy)
    assert (await client.delete(url)).status_code == 204
    assert (await client.delete(url)).status_code == 404
    speed = f"{T}/urn:ngsi-ld:Car:a/attrs/speed/{numbered}"
    assert (await client.delete(speed)).status_code == 204
    a = (await client.get(f"{T}/urn:ngsi-ld:Car:a")).json()
    assert [i["value"] for i in a["name"]] == ["A2"] and "speed" not in a
