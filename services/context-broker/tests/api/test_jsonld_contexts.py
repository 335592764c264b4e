"""@context management over HTTP (ETSI GS CIM 009 V1.8.1, 5.13; HTTP binding 6.29, 6.30).

The broker of this module fetches remote @contexts through an ``httpx.MockTransport``: the
documents it serves are in ``REMOTE``, and a URL missing there answers 500.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi import FastAPI

from conftest import serve
from context_broker.app import create_app

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
PUBLIC = "http://broker.example"
BASE = "/ngsi-ld/v1/jsonldContexts"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM = "https://smartdatamodels.org/dataModel.Parking/"
REMOTE_URL = "https://contexts.example/parking.jsonld"
REMOTE: dict[str, dict[str, Any]] = {}


def parking_context() -> dict[str, Any]:
    return {"@context": {"sdm": SDM, "ParkingSpot": "sdm:ParkingSpot", "width": "sdm:width"}}


def link(url: str) -> str:
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def new_tenant() -> str:
    return f"ctx{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="module")
async def broker(
    settings_for: Callable[..., object],
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    def remote(request: httpx.Request) -> httpx.Response:
        doc = REMOTE.get(str(request.url))
        return httpx.Response(500) if doc is None else httpx.Response(200, json=doc)

    app = create_app(settings_for("context-broker", public_base_url=PUBLIC + "/"))  # type: ignore[arg-type]
    async with serve(app) as client:
        contexts = app.state.contexts
        await contexts.client.aclose()
        contexts.client = httpx.AsyncClient(transport=httpx.MockTransport(remote))
        yield client, app
        await contexts.client.aclose()


@pytest.fixture
def client(broker: tuple[httpx.AsyncClient, FastAPI]) -> httpx.AsyncClient:
    return broker[0]


async def add(client: httpx.AsyncClient, body: Any, tenant: str | None = None) -> str:
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    resp = await client.post(BASE, json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    assert resp.content == b""
    location = resp.headers["location"]
    assert location.startswith(f"{BASE}/")
    return location.rsplit("/", 1)[1]


async def test_add_then_serve_a_hosted_context(client: httpx.AsyncClient) -> None:
    cid = await add(client, parking_context())
    served = await client.get(f"{BASE}/{cid}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == parking_context()
    as_ld = await client.get(f"{BASE}/{cid}", headers={"Accept": "application/ld+json"})
    assert as_ld.headers["content-type"] == "application/ld+json"
    assert as_ld.json() == parking_context()


async def test_details_of_a_hosted_context(client: httpx.AsyncClient) -> None:
    cid = await add(client, parking_context())
    resp = await client.get(f"{BASE}/{cid}", params={"details": "true"})
    assert resp.status_code == 200
    body = resp.json()
    created = body.pop("createdAt")
    assert created.endswith("Z") and created[:2] == "20"
    assert body == {
        "URL": f"{PUBLIC}{BASE}/{cid}",
        "localId": cid,
        "kind": "Hosted",
        "numberOfHits": 0,
    }


async def test_a_hosted_context_is_resolved_by_the_broker_and_its_uses_counted(
    client: httpx.AsyncClient,
) -> None:
    tenant = new_tenant()
    cid = await add(client, parking_context())
    url = f"{PUBLIC}{BASE}/{cid}"
    headers = {"Link": link(url), "NGSILD-Tenant": tenant}
    entity = {
        "id": "urn:ngsi-ld:ParkingSpot:hosted",
        "type": "ParkingSpot",
        "width": {"type": "Property", "value": 2.5},
    }
    created = await client.post("/ngsi-ld/v1/entities", json=entity, headers=headers)
    assert created.status_code == 201, created.text
    # Stored expanded with the hosted @context, named back with it.
    types = await client.get("/ngsi-ld/v1/types", headers=headers)
    assert types.json()["typeList"] == ["ParkingSpot"]
    core = await client.get("/ngsi-ld/v1/types", headers={"NGSILD-Tenant": tenant})
    assert core.json()["typeList"] == [f"{SDM}ParkingSpot"]
    got = await client.get(f"/ngsi-ld/v1/entities/{entity['id']}", headers=headers)
    assert got.json() == entity
    assert url in got.headers["link"]
    details = (await client.get(f"{BASE}/{cid}", params={"details": "true"})).json()
    assert details["numberOfHits"] == 3
    assert details["lastUsage"] >= details["createdAt"]
    # Counted once: the uses moved to the database are not added twice.
    again = (await client.get(BASE, params={"details": "true"})).json()
    assert next(c for c in again if c["localId"] == cid)["numberOfHits"] == 3


async def test_a_hosted_context_is_found_in_the_database_by_a_fresh_process(
    broker: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = broker
    cid = await add(client, parking_context())
    url = f"{PUBLIC}{BASE}/{cid}"
    app.state.contexts._forget(url)  # as a broker that did not add it
    resp = await client.get(
        "/ngsi-ld/v1/attributes", headers={"Link": link(url), "NGSILD-Tenant": new_tenant()}
    )
    assert resp.status_code == 200, resp.text


async def test_list_contexts(client: httpx.AsyncClient) -> None:
    tenant = new_tenant()
    first = await add(client, parking_context(), tenant)
    second = await add(client, {"@context": [CORE_CONTEXT, {"x": "https://x.example/x"}]}, tenant)
    headers = {"NGSILD-Tenant": tenant}
    urls = (await client.get(BASE, headers=headers)).json()
    assert [u for u in urls if u.startswith(PUBLIC)] == [
        f"{PUBLIC}{BASE}/{first}",
        f"{PUBLIC}{BASE}/{second}",
    ]
    hosted = (await client.get(BASE, params={"kind": "Hosted"}, headers=headers)).json()
    assert hosted == [f"{PUBLIC}{BASE}/{first}", f"{PUBLIC}{BASE}/{second}"]
    details = (
        await client.get(BASE, params={"kind": "Hosted", "details": "true"}, headers=headers)
    ).json()
    assert [(d["localId"], d["kind"]) for d in details] == [(first, "Hosted"), (second, "Hosted")]
    cached = (await client.get(BASE, params={"kind": "Cached"}, headers=headers)).json()
    assert f"{PUBLIC}{BASE}/{first}" not in cached
    implicit = await client.get(BASE, params={"kind": "ImplicitlyCreated"}, headers=headers)
    assert implicit.json() == []


async def test_hosted_contexts_belong_to_their_tenant(client: httpx.AsyncClient) -> None:
    tenant, other = new_tenant(), new_tenant()
    cid = await add(client, parking_context(), tenant)
    elsewhere = {"NGSILD-Tenant": other}
    listed = (await client.get(BASE, params={"details": "true"}, headers=elsewhere)).text
    assert cid not in listed
    assert (await client.get(f"{BASE}/{cid}", headers=elsewhere)).status_code == 404
    assert (await client.delete(f"{BASE}/{cid}", headers=elsewhere)).status_code == 404
    mine = await client.get(f"{BASE}/{cid}", headers={"NGSILD-Tenant": tenant})
    assert mine.json() == parking_context()


async def test_delete_a_hosted_context(client: httpx.AsyncClient) -> None:
    cid = await add(client, parking_context())
    url = f"{PUBLIC}{BASE}/{cid}"
    headers = {"Link": link(url), "NGSILD-Tenant": new_tenant()}
    assert (await client.get("/ngsi-ld/v1/types", headers=headers)).status_code == 200
    deleted = await client.delete(f"{BASE}/{cid}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"{BASE}/{cid}")
    assert gone.status_code == 404
    assert gone.json() == {
        "type": f"{ERR}ResourceNotFound",
        "title": "Resource not found",
        "status": 404,
        "detail": f"@context {cid} does not exist",
        "instance": f"{BASE}/{cid}",
    }
    # The compiled @context is forgotten too: the URL no longer resolves.
    used = await client.get("/ngsi-ld/v1/types", headers=headers)
    assert used.status_code == 504
    assert used.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert (await client.delete(f"{BASE}/{cid}")).status_code == 404


@pytest.mark.parametrize(
    ("context_id", "reload", "status", "error"),
    [
        ("0123456789abcdef0123456789abcdef", "true", 400, "BadRequestData"),
        ("0123456789abcdef0123456789abcdef", "false", 404, "ResourceNotFound"),
        ("no-such-context", None, 404, "ResourceNotFound"),
        ("no-such-context", "xxx", 400, "BadRequestData"),
        (quote(CORE_CONTEXT, safe=""), None, 400, "BadRequestData"),
        (quote(CORE_CONTEXT, safe=""), "false", 400, "BadRequestData"),
    ],
)
async def test_delete_errors(
    client: httpx.AsyncClient, context_id: str, reload: str | None, status: int, error: str
) -> None:
    params = {"reload": reload} if reload is not None else {}
    resp = await client.delete(f"{BASE}/{context_id}", params=params)
    assert resp.status_code == status
    assert resp.json()["type"] == f"{ERR}{error}"


async def test_a_hosted_context_is_not_reloaded(client: httpx.AsyncClient) -> None:
    cid = await add(client, parking_context())
    resp = await client.delete(f"{BASE}/{cid}", params={"reload": "true"})
    assert resp.status_code == 400
    assert resp.json()["detail"] == (
        f"@context {cid} is Hosted: only a Cached @context is reloaded"
    )
    assert (await client.get(f"{BASE}/{cid}")).status_code == 200


async def test_the_core_context(client: httpx.AsyncClient) -> None:
    path = f"{BASE}/{quote(CORE_CONTEXT, safe='')}"
    details = await client.get(path, params={"details": "true"})
    assert details.status_code == 200
    assert details.json()["kind"] == "Cached"
    assert details.json()["URL"] == CORE_CONTEXT
    content = await client.get(path)
    assert content.status_code == 422
    assert content.json()["type"] == f"{ERR}OperationNotSupported"
    assert (await client.delete(path, params={"reload": "true"})).status_code == 204


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"context": {}}, "InvalidRequest"),
        ([{"@context": {}}], "InvalidRequest"),
        ({"@context": 5}, "BadRequestData"),
        ({"@context": True}, "BadRequestData"),
        ({"@context": [CORE_CONTEXT, 1]}, "BadRequestData"),
        ({"@context": "not-a-url"}, "BadRequestData"),
        ({"@context": {"term": {"@id": "https://x.example/t", "@context": {}}}}, "BadRequestData"),
        ({"@context": {"@vocab": 3}}, "BadRequestData"),
    ],
)
async def test_an_invalid_context_is_not_added(
    client: httpx.AsyncClient, body: Any, error: str
) -> None:
    resp = await client.post(BASE, json=body)
    assert resp.status_code == 400
    assert resp.json()["type"] == f"{ERR}{error}"
    assert "location" not in resp.headers


async def test_malformed_json_is_an_invalid_request(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        BASE, content=b'{"@context": ', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert resp.json()["type"] == f"{ERR}InvalidRequest"


async def test_adding_keeps_a_context_whose_urls_cannot_be_had(
    client: httpx.AsyncClient,
) -> None:
    # The URLs a hosted @context names are fetched when it is added, when they can be (then
    # listed as Cached, see test_cached_contexts); one that cannot be had does not refuse it.
    url = "https://contexts.example/not-fetched.jsonld"
    cid = await add(client, {"@context": [url, {"a": "https://x.example/a"}]})
    listed = (await client.get(BASE, params={"kind": "Cached"})).json()
    assert url not in listed
    assert (await client.get(f"{BASE}/{cid}")).json()["@context"][0] == url


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"details": "other"}, "BadRequestData"),
        ({"kind": "other"}, "BadRequestData"),
        ({"details": "true", "kind": "hosted"}, "BadRequestData"),
        ({"limit": "1"}, "InvalidRequest"),
    ],
)
async def test_list_parameter_errors(
    client: httpx.AsyncClient, params: dict[str, str], error: str
) -> None:
    resp = await client.get(BASE, params=params)
    assert resp.status_code == 400
    assert resp.json()["type"] == f"{ERR}{error}"


async def test_cached_contexts(client: httpx.AsyncClient) -> None:
    REMOTE[REMOTE_URL] = parking_context()
    tenant = new_tenant()
    headers = {"Link": link(REMOTE_URL), "NGSILD-Tenant": tenant}
    entity = {"id": "urn:ngsi-ld:ParkingSpot:c", "type": "ParkingSpot"}
    assert (await client.post("/ngsi-ld/v1/entities", json=entity, headers=headers)).is_success
    listed = (await client.get(BASE, params={"kind": "Cached"})).json()
    assert REMOTE_URL in listed
    by_url = f"{BASE}/{quote(REMOTE_URL, safe='')}"
    details = (await client.get(by_url, params={"details": "true"})).json()
    assert details["kind"] == "Cached"
    assert details["URL"] == REMOTE_URL
    assert details["numberOfHits"] == 1
    by_id = await client.get(f"{BASE}/{details['localId']}", params={"details": "true"})
    assert by_id.json()["URL"] == REMOTE_URL
    content = await client.get(by_url)
    assert content.status_code == 422

    # Reload: the new document replaces the old one, and what was compiled from it.
    REMOTE[REMOTE_URL] = {"@context": {"ParkingSpot": "https://other.example/ParkingSpot"}}
    assert (await client.delete(by_url, params={"reload": "true"})).status_code == 204
    types = (await client.get("/ngsi-ld/v1/types", headers=headers)).json()["typeList"]
    assert types == [f"{SDM}ParkingSpot"]

    # A reload that fails keeps the copy the broker has.
    del REMOTE[REMOTE_URL]
    failed = await client.delete(by_url, params={"reload": "true"})
    assert failed.status_code == 504
    assert failed.json()["type"] == f"{ERR}LdContextNotAvailable"
    assert (await client.get(by_url, params={"details": "true"})).status_code == 200

    assert (await client.delete(by_url)).status_code == 204
    assert (await client.get(by_url, params={"details": "true"})).status_code == 404
    assert REMOTE_URL not in (await client.get(BASE)).json()


async def test_ld_json_body_is_accepted(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        BASE,
        content=orjson.dumps(parking_context()),
        headers={"Content-Type": "application/ld+json"},
    )
    assert resp.status_code == 201


async def test_the_location_of_a_hosted_context_can_be_used_as_it_is(
    client: httpx.AsyncClient,
) -> None:
    """The Location header is an absolute path; as the @context of an entity sent to this
    broker it is resolved against the broker's URL (ETSI test 053_04_01) and counted."""
    cid = await add(client, parking_context())
    location = f"{BASE}/{cid}"
    tenant = new_tenant()
    entity = {
        "id": f"urn:ngsi-ld:ParkingSpot:{cid}",
        "type": "ParkingSpot",
        "width": {"type": "Property", "value": 2},
        "@context": location,
    }
    made = await client.post(
        "/ngsi-ld/v1/entities",
        json=entity,
        headers={"Content-Type": "application/ld+json", "NGSILD-Tenant": tenant},
    )
    assert made.status_code == 201, made.text
    got = await client.get(
        f"/ngsi-ld/v1/entities/{entity['id']}",
        headers={"NGSILD-Tenant": tenant, "Link": link(f"{PUBLIC}{location}")},
    )
    assert got.json()["type"] == "ParkingSpot" and got.json()["width"]["value"] == 2
    details = await client.get(f"{BASE}/{cid}", params={"details": "true"})
    assert details.json()["numberOfHits"] == 2
