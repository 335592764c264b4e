"""Harvesting over real HTTP: the context broker (its own app and database), another
catalogue as a DCAT-AP endpoint and as a CKAN API, and sources that fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalogue.app import create_app
from catalogue.settings import CatalogueSettings
from conftest import RUN_ID, free_port, serve
from context_broker.app import create_app as create_broker
from mims_shared.db import maintenance_url
from mims_stack.database import prepare
from mims_stack.services import spec

from .helpers import conforms, post, uid
from .servers import http_server


@pytest.fixture(scope="module")
async def broker_url(settings_for: Callable[..., object]) -> AsyncIterator[str]:
    async with http_server(create_broker(settings_for("context-broker"))) as url:  # type: ignore[arg-type]
        yield url


def entity(kind: str, n: int) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:{kind}:{n}",
        "type": kind,
        "name": {"type": "Property", "value": f"n{n}"},
    }


async def run(client: httpx.AsyncClient, sid: str) -> dict[str, object]:
    resp = await client.post(f"/catalogue/v1/harvest-sources/{sid}/run")
    assert resp.status_code == 200, resp.text
    report: dict[str, object] = resp.json()
    return report


async def test_broker_types_become_datasets_and_stay_in_sync(
    client: httpx.AsyncClient, broker_url: str
) -> None:
    tenant = uid("t").replace("-", "")
    kind = "ParkingSpot"
    headers = {"NGSILD-Tenant": tenant}
    model = await post(
        client,
        "data-models",
        {
            "title": {"en": "ParkingSpot"},
            "version": "0.1.2",
            "schema": "https://smart-data-models.github.io/dataModel.Parking/ParkingSpot/schema.json",
            "context": "https://smart-data-models.github.io/dataModel.Parking/context.jsonld",
            "entityTypes": [kind],
        },
    )
    async with httpx.AsyncClient(base_url=broker_url) as broker:
        for e in (entity(kind, 1), entity(kind, 2), entity("OffStreetParking", 1)):
            created = await broker.post("/ngsi-ld/v1/entities", json=e, headers=headers)
            assert created.status_code == 201, created.text
        sid = uid("broker")
        src = await client.post(
            "/catalogue/v1/harvest-sources",
            json={"identifier": sid, "type": "ngsi-ld", "url": broker_url, "tenant": tenant},
        )
        assert src.status_code == 201, src.text
        first = await run(client, sid)
        assert first["status"] == "ok" and first["created"] == 2 and first["deleted"] == 0
        found = (
            await client.get(
                "/api/3/action/package_search", params={"q": kind, "fq": f"tags:{kind.lower()}"}
            )
        ).json()
        pkgs = [p for p in found["result"]["results"] if p["id"].startswith(sid)]
        assert len(pkgs) == 1
        pkg = pkgs[0]
        assert pkg["title"] == "ParkingSpot entities"
        assert (
            pkg["resources"][0]["access_url"]
            == "http://localhost:8080/ngsi-ld/v1/entities?type=ParkingSpot"
        )
        assert pkg["resources"][0]["format"] == "JSON_LD"
        # every data model defining the type is named (other tests write ParkingSpot models too)
        assert pkg["extras"][1]["key"] == "conforms_to"
        assert model["id"] in pkg["extras"][1]["value"].split(",")
        ttl = await client.get(f"/catalogue/dataset/{pkg['id']}.ttl")
        assert conforms(ttl.content) == []
        service = await client.get(f"/catalogue/v1/data-services/{sid}-ngsi-ld-api")
        assert service.json()["endpointURL"] == ["http://localhost:8080/ngsi-ld/v1"]
        assert pkg["id"] in service.json()["servesDataset"]
        svc_ttl = await client.get(
            f"/catalogue/v1/data-services/{sid}-ngsi-ld-api", headers={"Accept": "text/turtle"}
        )
        assert conforms(svc_ttl.content) == []
        assert (await run(client, sid))["unchanged"] == 2  # idempotent
        # a type disappears from the broker: its dataset goes
        gone = await broker.delete(
            "/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:1", headers=headers
        )
        assert gone.status_code == 204
        third = await run(client, sid)
        assert third["deleted"] == 1 and third["unchanged"] == 1
        served = (await client.get(f"/catalogue/v1/data-services/{sid}-ngsi-ld-api")).json()
        assert served["servesDataset"] == [pkg["id"]]
        reports = (await client.get(f"/catalogue/v1/harvest-sources/{sid}/reports")).json()
        assert [r["deleted"] for r in reports] == [1, 0, 0]


@pytest.fixture(scope="module")
async def remote(pg_server: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """Another catalogue (same code, a database of its own) over real HTTP."""
    name = f"mims_test_catalogue_remote_{RUN_ID}"
    urls = await prepare(pg_server, (spec("catalogue"),), {"catalogue": name})
    port = free_port()
    settings = CatalogueSettings(
        database_url=urls["catalogue"],
        access_log=False,
        environment="test",
        public_base_url=f"http://127.0.0.1:{port}",
    )
    try:
        async with (
            http_server(create_app(settings), port) as url,
            httpx.AsyncClient(base_url=url) as c,
        ):
            yield url, c
    finally:
        conn = await asyncpg.connect(maintenance_url(urls["catalogue"]))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.mark.parametrize("kind", ["dcat", "ckan"])
async def test_remote_harvest_is_idempotent_and_propagates_deletions(
    client: httpx.AsyncClient, remote: tuple[str, httpx.AsyncClient], kind: str
) -> None:
    url, rc = remote
    word = uid("remote").replace("-", "")
    agent = await post(rc, "agents", {"name": f"Remote city {word}"})
    made = []
    for n in range(3):
        ds = await post(
            rc,
            "datasets",
            {
                "title": {"en": f"{word} {n}"},
                "description": {"en": "Remote data"},
                "keyword": [word],
                "theme": ["ENVI"],
                "publisher": agent["id"],
            },
        )
        await post(
            rc,
            "distributions",
            {
                "dataset": ds["id"],
                "accessURL": f"https://remote.example.org/files/{n}.csv",
                "format": "CSV",
                "license": "CC0",
            },
        )
        made.append(ds)
    source_url = f"{url}/catalogue/catalog.ttl?page_size=2" if kind == "dcat" else url
    sid = uid(kind)
    created = await client.post(
        "/catalogue/v1/harvest-sources", json={"identifier": sid, "type": kind, "url": source_url}
    )
    assert created.status_code == 201
    first = await run(client, sid)
    assert first["status"] == "ok", first["errors"]
    mine = (
        await client.get("/api/3/action/package_search", params={"q": word, "rows": 100})
    ).json()["result"]
    harvested = [p for p in mine["results"] if p["id"].startswith(sid)]
    assert sorted(p["title"] for p in harvested) == [f"{word} {n}" for n in range(3)]
    assert all(p["resources"][0]["format"] == "CSV" and p["license_id"] == "CC0" for p in harvested)
    assert all(p["organization"]["title"] == f"Remote city {word}" for p in harvested)
    assert all(p["groups"][0]["name"] == "envi" for p in harvested)
    second = await run(client, sid)
    assert second["created"] == 0 and second["deleted"] == 0 and second["unchanged"] >= 3
    assert (await rc.delete(f"/catalogue/v1/datasets/{made[0]['id']}")).status_code == 204
    third = await run(client, sid)
    assert third["deleted"] == 1
    left = (
        await client.get("/api/3/action/package_search", params={"q": word, "rows": 100})
    ).json()["result"]
    assert len([p for p in left["results"] if p["id"].startswith(sid)]) == 2


def fault_app() -> Starlette:
    async def error(request: Request) -> Response:
        return Response("boom", 500)

    async def slow(request: Request) -> Response:
        await asyncio.sleep(3)
        return Response("", 200, media_type="text/turtle")

    async def garbage(request: Request) -> Response:
        return Response(b"@prefix broken <<< this is not turtle", 200, media_type="text/turtle")

    async def not_ckan(request: Request) -> Response:
        return Response(b'{"success": false}', 200, media_type="application/json")

    return Starlette(
        routes=[
            Route("/error", error),
            Route("/slow", slow),
            Route("/garbage", garbage),
            Route("/ckan/api/3/action/package_search", not_ckan),
        ]
    )


async def test_failed_harvests_report_and_damage_nothing(
    settings_for: Callable[..., object], remote: tuple[str, httpx.AsyncClient]
) -> None:
    url, rc = remote
    app = create_app(settings_for("catalogue", harvest_timeout_s=0.5))  # type: ignore[arg-type]
    async with serve(app) as client, http_server(fault_app()) as faults:
        word = uid("keep").replace("-", "")
        await post(
            rc,
            "datasets",
            {"title": {"en": word}, "description": {"en": "kept"}, "keyword": [word]},
        )
        sid = uid("src")
        await client.post(
            "/catalogue/v1/harvest-sources", json={"identifier": sid, "type": "ckan", "url": url}
        )
        assert (await run(client, sid))["created"] >= 1
        before = (await client.get("/api/3/action/package_search", params={"q": word})).json()[
            "result"
        ]["count"]
        assert before == 1
        cases = {
            "error": ("dcat", f"{faults}/error", "answered 500"),
            "slow": ("dcat", f"{faults}/slow", "did not answer within"),
            "garbage": ("dcat", f"{faults}/garbage", "is not parseable turtle"),
            "ckan": ("ckan", f"{faults}/ckan", "did not answer a CKAN package_search result"),
        }
        for name, (kind, target, message) in cases.items():
            fid = uid(name)
            await client.post(
                "/catalogue/v1/harvest-sources",
                json={"identifier": fid, "type": kind, "url": target},
            )
            report = await run(client, fid)
            assert report["status"] == "failed" and report["created"] == 0
            assert message in report["errors"][0], report  # type: ignore[index]
        after = (await client.get("/api/3/action/package_search", params={"q": word})).json()[
            "result"
        ]["count"]
        assert after == 1
        # deleting a source deletes what was harvested from it
        assert (await client.delete(f"/catalogue/v1/harvest-sources/{sid}")).status_code == 204
        gone = (await client.get("/api/3/action/package_search", params={"q": word})).json()[
            "result"
        ]["count"]
        assert gone == 0


async def test_bad_harvest_sources(client: httpx.AsyncClient) -> None:
    for body in (
        {"type": "ftp", "url": "http://x.org"},
        {"type": "dcat", "url": "file:///etc/passwd"},
        {"type": "dcat", "url": "http://x.org", "intervalSeconds": 1},
    ):
        resp = await client.post("/catalogue/v1/harvest-sources", json=body)
        assert (
            resp.status_code == 400 and resp.json()["type"] == "urn:mims:problem:bad-request-data"
        )
    assert (await client.post("/catalogue/v1/harvest-sources/none/run")).status_code == 404


async def test_scheduled_harvest(
    settings_for: Callable[..., object], remote: tuple[str, httpx.AsyncClient]
) -> None:
    url, _ = remote
    app = create_app(settings_for("catalogue", harvest_poll_s=0.1))  # type: ignore[arg-type]
    async with serve(app) as client:
        sid = uid("sched")
        await client.post(
            "/catalogue/v1/harvest-sources",
            json={"identifier": sid, "type": "ckan", "url": url, "intervalSeconds": 3600},
        )
        for _ in range(100):
            reports = (await client.get(f"/catalogue/v1/harvest-sources/{sid}/reports")).json()
            if reports:
                break
            await asyncio.sleep(0.1)
        assert len(reports) == 1 and reports[0]["status"] == "ok"
