"""Temporal, MIM2, MIM3, catalogue and MIM6 checks: each passes against a server that follows
the rule (the real service where this branch has it, else a small fake) and fails against
one that breaks it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from checks.tests.conftest import Outcome
from checks.tests.fakes import (
    VALID_CATALOGUE,
    catalogue_app,
    gateway_app,
    temporal_app,
    tmf_app,
)
from checks.tests.servers import LiveServer, Req, Resp, Saboteur

TOKEN = "s3cret"  # noqa: S105 (a test token)
Live = Callable[..., LiveServer]
Served = tuple[str, Saboteur]


# -- temporal --------------------------------------------------------------------------------


async def test_temporal_skips_when_the_broker_has_no_temporal_api(
    broker: Served, outcome: Outcome
) -> None:
    url, saboteur = broker
    saboteur.on_response = lambda req, resp: (
        Resp(404, {"content-type": "application/json"}, b"{}") if "/temporal/" in req.path else resp
    )
    result = await outcome("mim1.temporal", broker=url)
    assert result.status == "skipped" and "not served" in result.message


async def test_temporal_passes_and_fails_without_timerel(live: Live, outcome: Outcome) -> None:
    good = live(temporal_app())
    result = await outcome("mim1.temporal", broker=good.url)
    assert result.status == "passed", result.message

    saboteur = Saboteur(temporal_app())
    saboteur.on_request = lambda req: Req(
        req.method, req.path, re.sub(r"time(rel|At)=[^&]*&?", "", req.query), req.headers, req.body
    )
    bad = live(saboteur)
    result = await outcome("mim1.temporal", broker=bad.url)
    assert result.status == "failed" and "timerel" in result.message


# -- MIM2 ------------------------------------------------------------------------------------

SDM_PARKING = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
)


async def _parking_spot(url: str, tenant: str) -> None:
    entity = {
        "id": f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}",
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": "A-13"},
        "status": {"type": "Property", "value": "free"},
        "category": {"type": "Property", "value": ["onStreet"]},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2.3, 48.8]}},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:check"},
        "@context": [SDM_PARKING],
    }
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{url}/ngsi-ld/v1/entities",
            json=entity,
            headers={"Content-Type": "application/ld+json", "NGSILD-Tenant": tenant},
        )
        assert r.status_code == 201, r.text


async def test_mim2_passes_on_valid_entities_and_fails_on_a_broken_one(
    broker: Served, outcome: Outcome
) -> None:
    url, saboteur = broker
    tenant = f"mimscheck{uuid.uuid4().hex[:8]}"
    empty = await outcome("mim2.entities-conform", broker=url, tenant=tenant)
    assert empty.status == "skipped" and "--schema" in empty.message
    await _parking_spot(url, tenant)
    result = await outcome("mim2.entities-conform", broker=url, tenant=tenant)
    assert result.status == "passed", result.message
    assert "1 entities of ParkingSpot" in result.message

    def bogus_status(req: Req, resp: Resp) -> Resp:
        if "keyValues" in req.query:
            items = json.loads(resp.body)
            for item in items:
                item["status"] = "bogus"
            resp.body = json.dumps(items).encode()
        return resp

    saboteur.on_response = bogus_status
    result = await outcome("mim2.entities-conform", broker=url, tenant=tenant)
    assert result.status == "failed" and "bogus" in result.message


async def test_mim2_uses_a_given_schema(broker: Served, outcome: Outcome, tmp_path: Path) -> None:
    url, _ = broker
    tenant = f"mimscheck{uuid.uuid4().hex[:8]}"
    await _parking_spot(url, tenant)
    schema = tmp_path / "strict.json"
    schema.write_text(json.dumps({"required": ["colour"]}))
    result = await outcome(
        "mim2.entities-conform", broker=url, tenant=tenant, schemas={"ParkingSpot": str(schema)}
    )
    assert result.status == "failed" and "colour" in result.message


# -- MIM3 ------------------------------------------------------------------------------------


async def test_tmf632_passes_on_the_marketplace(marketplace: Served, outcome: Outcome) -> None:
    result = await outcome("mim3.tmf632-organization", marketplace=marketplace[0])
    assert result.status == "passed", result.message


async def test_tmf632_fails_without_x_total_count(marketplace: Served, outcome: Outcome) -> None:
    url, saboteur = marketplace

    def drop(req: Req, resp: Resp) -> Resp:
        resp.headers.pop("x-total-count", None)
        return resp

    saboteur.on_response = drop
    result = await outcome("mim3.tmf632-organization", marketplace=url)
    assert result.status == "failed" and "X-Total-Count" in result.message


async def test_tmf_checks_pass_on_a_conforming_server(live: Live, outcome: Outcome) -> None:
    server = live(tmf_app())
    for name in ("mim3.tmf632-update", "mim3.tmf620-offering", "mim3.tmf622-order"):
        result = await outcome(name, marketplace=server.url)
        assert result.status == "passed", (name, result.message)


async def test_tmf632_update_fails_when_patch_is_missing(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(tmf_app())
    saboteur.on_response = lambda req, resp: (
        Resp(405, {"content-type": "application/json"}, b"{}") if req.method == "PATCH" else resp
    )
    result = await outcome("mim3.tmf632-update", marketplace=live(saboteur).url)
    assert result.status == "failed" and "PATCH" in result.message


async def test_tmf620_fails_when_errors_are_not_tmf_errors(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(tmf_app())
    saboteur.on_response = lambda req, resp: (
        Resp(404, {"content-type": "text/plain"}, b"nope") if resp.status == 404 else resp
    )
    result = await outcome("mim3.tmf620-offering", marketplace=live(saboteur).url)
    assert result.status == "failed" and "Error" in result.message


async def test_tmf622_fails_on_an_unknown_order_state(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(tmf_app())

    def weird(req: Req, resp: Resp) -> Resp:
        if req.method == "POST" and req.path.endswith("/productOrder") and resp.status == 201:
            body = json.loads(resp.body)
            body["state"] = "shipped-ish"
            resp.body = json.dumps(body).encode()
        return resp

    saboteur.on_response = weird
    result = await outcome("mim3.tmf622-order", marketplace=live(saboteur).url)
    assert result.status == "failed" and "state" in result.message


async def test_tmf_checks_skip_where_the_api_is_absent(live: Live, outcome: Outcome) -> None:
    from starlette.applications import Starlette

    nothing = live(Starlette())  # a server where every TMF collection answers 404
    result = await outcome("mim3.tmf620-offering", marketplace=nothing.url)
    assert result.status == "skipped" and "not served" in result.message


# -- catalogue -------------------------------------------------------------------------------


async def test_catalogue_checks_pass_on_a_conforming_catalogue(
    live: Live, outcome: Outcome
) -> None:
    server = live(catalogue_app())
    for name in ("catalogue.dcat-ap-shacl", "catalogue.ckan-api"):
        result = await outcome(name, catalogue=server.url)
        assert result.status == "passed", (name, result.message)


async def test_dcat_check_fails_on_a_dataset_without_description(
    live: Live, outcome: Outcome
) -> None:
    saboteur = Saboteur(catalogue_app())
    broken = VALID_CATALOGUE.replace(' ; dct:description "Where to park"@en', "")
    saboteur.on_response = lambda req, resp: (
        Resp(200, {"content-type": "text/turtle"}, broken.encode())
        if req.path.endswith(".ttl")
        else resp
    )
    result = await outcome("catalogue.dcat-ap-shacl", catalogue=live(saboteur).url)
    assert result.status == "failed" and "description" in result.message


async def test_ckan_check_fails_when_not_found_is_a_success(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(catalogue_app())
    saboteur.on_response = lambda req, resp: (
        Resp(200, {"content-type": "application/json"}, b'{"success": true, "result": null}')
        if resp.status == 404
        else resp
    )
    result = await outcome("catalogue.ckan-api", catalogue=live(saboteur).url)
    assert result.status == "failed" and "404" in result.message


async def test_catalogue_checks_skip_when_nothing_is_served(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(catalogue_app())
    saboteur.on_response = lambda req, resp: Resp(404, {}, b"")
    url = live(saboteur).url
    for name in ("catalogue.dcat-ap-shacl", "catalogue.ckan-api"):
        result = await outcome(name, catalogue=url)
        assert result.status == "skipped", (name, result.message)


# -- MIM6 ------------------------------------------------------------------------------------


async def test_auth_check_passes_on_a_protected_gateway(live: Live, outcome: Outcome) -> None:
    server = live(gateway_app(TOKEN))
    result = await outcome("mim6.unauthenticated-refused", gateway=server.url, token=TOKEN)
    assert result.status == "passed", result.message
    skipped = await outcome("mim6.unauthenticated-refused", gateway=server.url)
    assert skipped.status == "skipped" and "--token" in skipped.message


async def test_auth_check_fails_on_an_open_gateway(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(gateway_app(TOKEN))
    saboteur.on_request = lambda req: Req(
        req.method, req.path, req.query, {**req.headers, "authorization": f"Bearer {TOKEN}"}, b""
    )
    result = await outcome("mim6.unauthenticated-refused", gateway=live(saboteur).url, token=TOKEN)
    assert result.status == "failed", result.message


async def test_auth_check_fails_without_www_authenticate(live: Live, outcome: Outcome) -> None:
    saboteur = Saboteur(gateway_app(TOKEN))

    def strip(req: Req, resp: Resp) -> Resp:
        resp.headers.pop("www-authenticate", None)
        return resp

    saboteur.on_response = strip
    url = live(saboteur).url
    result = await outcome("mim6.unauthenticated-refused", gateway=url, token=TOKEN)
    assert result.status == "failed" and "WWW-Authenticate" in result.message


async def test_tls_check(live: Live, outcome: Outcome, tmp_path: Path) -> None:
    plain = await outcome("mim6.tls", broker="http://10.20.30.40:1026")
    assert plain.status == "failed" and "TLS expected" in plain.message
    local = await outcome("mim6.tls", broker="http://127.0.0.1:1026")
    assert local.status == "skipped"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    await asyncio.to_thread(
        subprocess.run,
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = live(gateway_app("t"), ssl_keyfile=str(key), ssl_certfile=str(cert))
    async with httpx.AsyncClient(verify=False) as client:  # noqa: S501 (self-signed)
        from mims_check.runner import REGISTRY, Context, run_one

        ctx = Context(urls={"gateway": server.url}, client=client, run_id="tls")
        result = await run_one(REGISTRY["mim6.tls"], ctx)
    assert result.status == "passed", result.message


async def test_mim2_uses_the_models_registered_in_the_catalogue(
    broker: Served, outcome: Outcome, live: Live
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    url, _ = broker
    tenant = f"mimscheck{uuid.uuid4().hex[:8]}"
    await _parking_spot(url, tenant)

    async def models(request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        record = {
            "id": "urn:model:strict-parking",
            "schema": f"{base}/schemas/strict.json",
            "context": SDM_PARKING,
            "entityTypes": ["ParkingSpot"],
        }
        return JSONResponse({"total": 1, "items": [record]})

    async def strict(request: Request) -> JSONResponse:
        return JSONResponse({"type": "object", "required": ["colour"]})

    catalogue = live(
        Starlette(
            routes=[
                Route("/catalogue/v1/data-models", models),
                Route("/schemas/strict.json", strict),
            ]
        )
    )
    result = await outcome(
        "mim2.entities-conform", broker=url, catalogue=catalogue.url, tenant=tenant
    )
    assert result.status == "failed" and "colour" in result.message


async def test_auth_check_fails_when_everything_is_refused(live: Live, outcome: Outcome) -> None:
    # A gateway that refuses every request, the city's token too, proves nothing.
    server = live(gateway_app("another-token"))
    result = await outcome("mim6.unauthenticated-refused", gateway=server.url, token=TOKEN)
    assert result.status == "failed" and "not accepted" in result.message


async def test_mim2_reads_default_vocabulary_types_without_the_model_context(
    broker: Served, outcome: Outcome
) -> None:
    # Written without any @context: type and attributes are in the default vocabulary.
    url, _ = broker
    tenant = f"mimscheck{uuid.uuid4().hex[:8]}"
    entity = {
        "id": f"urn:ngsi-ld:ParkingSpot:{uuid.uuid4().hex}",
        "type": "ParkingSpot",
        "name": {"type": "Property", "value": "B-2"},
        "status": {"type": "Property", "value": "occupied"},
        "category": {"type": "Property", "value": ["offStreet"]},
        "refParkingSite": {"type": "Relationship", "object": "urn:ngsi-ld:ParkingSite:x"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [2, 48]}},
    }
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{url}/ngsi-ld/v1/entities", json=entity, headers={"NGSILD-Tenant": tenant}
        )
        assert r.status_code == 201, r.text
    result = await outcome("mim2.entities-conform", broker=url, tenant=tenant)
    assert result.status == "passed", result.message
