"""Identity, tenancy, roles and entitlements at the gateway, against real HTTP stand-ins
for the broker and the marketplace (and a real issuer process for external OIDC)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest

from conftest import free_port, serve
from gateway.app import create_app
from mims_stack.services import spec
from mims_stack.supervisor import start_service, wait_ready

from .standins import Marketplace, StandIn, broker_answer

ADMIN = {"Authorization": "Bearer dev-admin-token"}
JSON = "application/json"


@pytest.fixture(scope="module")
def broker() -> Iterator[StandIn]:
    s = StandIn(broker_answer)
    yield s
    s.close()


@pytest.fixture(scope="module")
def market() -> Iterator[Marketplace]:
    m = Marketplace()
    yield m
    m.close()


@pytest.fixture(scope="module")
async def gw(
    settings_for: Callable[..., object], broker: StandIn, market: Marketplace
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        "gateway",
        broker_url=broker.url,
        catalogue_url=broker.url,
        marketplace_url=market.url,
        auth_mode="enforce",
        open_types="OpenSpot",
        entitlement_cache_s=60,
        cors_origins="https://app.example",
    )
    async with serve(create_app(settings)) as client:  # type: ignore[arg-type]
        yield client


async def register(gw: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    resp = await gw.post("/gateway/v1/clients", json={"name": "c", **body}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


async def token_for(gw: httpx.AsyncClient, client: dict[str, Any]) -> dict[str, str]:
    resp = await gw.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["id"], client["apiKey"]),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300  # noqa: S105
    assert resp.headers["cache-control"] == "no-store"
    return {"Authorization": f"Bearer {body['access_token']}"}


def assert_problem(resp: httpx.Response, status: int, detail: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    kind = {401: "unauthenticated", 403: "forbidden", 429: "too-many-requests"}[status]
    assert resp.json() == {
        "type": f"urn:mims:problem:{kind}",
        "title": {401: "Unauthenticated", 403: "Forbidden", 429: "Too many requests"}[status],
        "status": status,
        "detail": detail,
        "instance": resp.request.url.path,
    }


async def test_anonymous_is_refused_with_the_reason_and_audit_logged(
    gw: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="mims.audit"):
        resp = await gw.get("/ngsi-ld/v1/entities?type=Secret")
    assert_problem(resp, 401, "Reading entity type Secret needs credentials")
    assert resp.headers["www-authenticate"] == 'Bearer realm="mims"'
    assert resp.headers["x-content-type-options"] == "nosniff"
    records = [r for r in caplog.records if r.name == "mims.audit"]
    assert records and records[-1].__dict__["status"] == 401
    assert records[-1].__dict__["path"] == "/ngsi-ld/v1/entities"
    # Open data is public; the catalogue is readable without credentials.
    assert (await gw.get("/ngsi-ld/v1/entities/urn:ngsi-ld:OpenSpot:1")).status_code == 200
    listed = await gw.get("/ngsi-ld/v1/entities?type=OpenSpot")
    assert listed.json()["headers"]["x-mims-entity-types"] == "OpenSpot"
    assert (await gw.get("/catalogue/v1/datasets")).status_code == 200
    assert_problem(
        await gw.post("/catalogue/v1/datasets", json={}),
        401,
        "The catalogue needs credentials for this",
    )


async def test_bad_tokens_are_401(gw: httpx.AsyncClient) -> None:
    cases = {
        "Bearer not-a-jwt": "The bearer token is not a well-formed JWT",
        "Basic abc": "The Authorization header must hold a Bearer token",
    }
    for header, detail in cases.items():
        resp = await gw.get("/ngsi-ld/v1/types", headers={"Authorization": header})
        assert_problem(resp, 401, detail)
    foreign = jwt.encode(
        {"iss": "https://evil.example", "aud": "mims", "exp": time.time() + 60},
        "k" * 32,
        algorithm="HS256",
    )
    resp = await gw.get("/ngsi-ld/v1/types", headers={"Authorization": f"Bearer {foreign}"})
    assert_problem(resp, 401, "The bearer token's issuer 'https://evil.example' is not trusted")
    resp = await gw.get("/ngsi-ld/v1/types", headers={"X-API-Key": "mims_nope"})
    assert_problem(resp, 401, "The API key is unknown or revoked")


async def test_token_signature_audience_and_expiry_are_checked(gw: httpx.AsyncClient) -> None:
    client = await register(gw, roles=["data-provider"])
    good = (await token_for(gw, client))["Authorization"][7:]
    header = jwt.get_unverified_header(good)
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode({**claims, "roles": ["city-admin"]}, _other_key(), "RS256", header)
    resp = await gw.get("/ngsi-ld/v1/types", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(resp, 401, "The bearer token is invalid: Signature verification failed")
    keys = gw._transport.app.state.issuer.keys  # type: ignore[attr-defined]
    kid, private = keys.signer()
    for change, detail in (
        ({"aud": "other"}, "The bearer token is not meant for this audience (mims)"),
        ({"exp": int(time.time()) - 120}, "The bearer token has expired"),
    ):
        bad = jwt.encode({**claims, **change}, private, "RS256", {"kid": kid})
        resp = await gw.get("/ngsi-ld/v1/types", headers={"Authorization": f"Bearer {bad}"})
        assert_problem(resp, 401, detail)
    # Within the clock skew an expired token still passes.
    late = jwt.encode({**claims, "exp": int(time.time()) - 5}, private, "RS256", {"kid": kid})
    resp = await gw.get("/ngsi-ld/v1/types", headers={"Authorization": f"Bearer {late}"})
    assert resp.status_code == 200


def _other_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_token_endpoint_errors(gw: httpx.AsyncClient) -> None:
    client = await register(gw, roles=["data-consumer"])
    wrong = await gw.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["id"], "mims_wrong"),
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = await gw.post(
        "/oauth/token", data={"grant_type": "password"}, auth=(client["id"], client["apiKey"])
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    in_body = await gw.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["id"],
            "client_secret": client["apiKey"],
        },
    )
    assert in_body.status_code == 200
    doc = (await gw.get("/.well-known/openid-configuration")).json()
    assert doc["token_endpoint"].endswith("/oauth/token")
    assert doc["grant_types_supported"] == ["client_credentials"]
    jwks = (await gw.get("/oauth/jwks")).json()
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in jwks["keys"])


async def test_consumer_is_refused_until_entitled(
    gw: httpx.AsyncClient, broker: StandIn, market: Marketplace
) -> None:
    party = f"urn:party:{time.monotonic_ns()}"
    consumer = await register(gw, roles=["data-consumer"], tenants=["t1"], party=party)
    auth = await token_for(gw, consumer)
    resp = await gw.get("/ngsi-ld/v1/entities?type=ParkingSpot", headers=auth)
    assert_problem(
        resp, 403, "The caller has no entitlement to read entity type ParkingSpot in tenant t1"
    )
    resp = await gw.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:1", headers=auth)
    assert_problem(
        resp, 403, "The caller has no entitlement to read entity type ParkingSpot in tenant t1"
    )
    calls = market.calls()
    market.entitlements.append(
        {
            "party": party,
            "datasets": ["ds-1"],
            "entityTypes": ["https://smartdatamodels.org/dataModel.Parking/ParkingSpot"],
            "tenant": "t1",
            "actions": ["read"],
            "validFrom": "2020-01-01T00:00:00Z",
            "validUntil": None,
            "order": "o-1",
            "product": "p-1",
        }
    )
    # Cached: still refused, without asking the marketplace again.
    resp = await gw.get("/ngsi-ld/v1/entities?type=ParkingSpot", headers=auth)
    assert resp.status_code == 403 and market.calls() == calls
    # The marketplace's event clears the cache.
    event = {"eventType": "ProductCreateEvent", "event": {"product": {"id": "p-1"}}}
    assert (await gw.post("/gateway/v1/listener/entitlements", json=event)).status_code == 204
    resp = await gw.get("/ngsi-ld/v1/entities?type=ParkingSpot", headers=auth)
    assert resp.status_code == 200, resp.text
    seen = resp.json()["headers"]
    assert seen["ngsild-tenant"] == "t1"
    assert seen["x-mims-party"] == party and seen["x-mims-roles"] == "data-consumer"
    assert seen["x-mims-subject"] == consumer["id"] and "authorization" not in seen
    # The broker is told which types the consumer may see; a client's own claim is dropped.
    assert seen["x-mims-entity-types"] == "ParkingSpot"
    forged = await gw.get(
        "/ngsi-ld/v1/entities?type=ParkingSpot",
        headers={**auth, "X-Mims-Entity-Types": "Camera,ParkingSpot"},
    )
    assert forged.json()["headers"]["x-mims-entity-types"] == "ParkingSpot"
    one = await gw.get("/ngsi-ld/v1/entities/urn:ngsi-ld:ParkingSpot:7", headers=auth)
    assert one.json() == {"id": "urn:ngsi-ld:ParkingSpot:7", "type": "ParkingSpot"}
    other = await gw.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Camera:7", headers=auth)
    assert_problem(
        other, 403, "The caller has no entitlement to read entity type Camera in tenant t1"
    )
    # A query without type is limited to the entitled types.
    listed = await gw.get("/ngsi-ld/v1/entities?q=status==%22free%22", headers=auth)
    assert listed.json()["path"] == "/ngsi-ld/v1/entities?q=status==%22free%22&type=ParkingSpot"
    mixed = await gw.get("/ngsi-ld/v1/entities?type=(ParkingSpot;Camera)", headers=auth)
    assert_problem(
        mixed, 403, "The caller has no entitlement to read entity type Camera in tenant t1"
    )
    # Discovery and the subscriptions a consumer lists or deletes: the broker is told too
    # (it then names only those types, and shows only the consumer's own subscriptions).
    for method, path in [
        ("GET", "/ngsi-ld/v1/types"),
        ("GET", "/ngsi-ld/v1/attributes?details=true"),
        ("GET", "/ngsi-ld/v1/subscriptions"),
        ("DELETE", "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:1"),
    ]:
        meta = await gw.request(method, path, headers=auth)
        assert meta.status_code == 200, (path, meta.text)
        assert meta.json()["headers"]["x-mims-entity-types"] == "ParkingSpot", path
        assert meta.json()["headers"]["x-mims-subject"] == consumer["id"]
    # Batch query and subscriptions name their types in the body; subscribing is its own action.
    query = {"type": "Query", "entities": [{"type": "ParkingSpot"}]}
    ok = await gw.post("/ngsi-ld/v1/entityOperations/query", json=query, headers=auth)
    assert ok.status_code == 200 and ok.json()["body"]
    sub = {"type": "Subscription", "entities": [{"type": "ParkingSpot"}], "notification": {}}
    refused = await gw.post("/ngsi-ld/v1/subscriptions", json=sub, headers=auth)
    assert_problem(
        refused,
        403,
        "The caller has no entitlement to subscribe entity type ParkingSpot in tenant t1",
    )
    untyped = await gw.post("/ngsi-ld/v1/subscriptions", json={"type": "x"}, headers=auth)
    assert_problem(untyped, 403, "A consumer must name the entity types to subscribe")
    # Consumers do not write; another tenant is out of reach.
    write = await gw.post("/ngsi-ld/v1/entities", json={"id": "x"}, headers=auth)
    assert_problem(write, 403, "Changing NGSI-LD data needs the data-provider role")
    cross = await gw.get(
        "/ngsi-ld/v1/entities?type=ParkingSpot", headers={**auth, "NGSILD-Tenant": "t2"}
    )
    assert_problem(cross, 403, "Tenant t2 is not one of the tenants the caller may use")
    # Subscribing: two entitlements cover ParkingSpot, the later end counts; the broker is
    # told when the subscription's right ends.
    for until in ("2030-01-01T00:00:00Z", "2031-06-01T00:00:00Z"):
        market.entitlements.append(
            {
                "party": party,
                "entityTypes": ["ParkingSpot"],
                "tenant": "t1",
                "actions": ["subscribe"],
                "validFrom": None,
                "validUntil": until,
            }
        )
    gw_forget = {"eventType": "ProductCreateEvent", "event": {}}
    assert (await gw.post("/gateway/v1/listener/entitlements", json=gw_forget)).status_code == 204
    made = await gw.post("/ngsi-ld/v1/subscriptions", json=sub, headers=auth)
    assert made.status_code == 200, made.text
    seen = made.json()["headers"]
    assert seen["x-mims-entity-types"] == "ParkingSpot"
    assert seen["x-mims-entitled-until"] == "2031-06-01T00:00:00Z"


async def test_provider_writes_in_its_tenants_only(gw: httpx.AsyncClient) -> None:
    provider = await register(gw, roles=["data-provider"], tenants=["t1", "t3"])
    auth = await token_for(gw, provider)
    body = {"id": "urn:ngsi-ld:ParkingSpot:1", "type": "ParkingSpot"}
    ok = await gw.post("/ngsi-ld/v1/entities", json=body, headers={**auth, "NGSILD-Tenant": "t3"})
    assert ok.status_code == 200 and ok.json()["headers"]["ngsild-tenant"] == "t3"
    cross = await gw.post(
        "/ngsi-ld/v1/entities", json=body, headers={**auth, "NGSILD-Tenant": "t2"}
    )
    assert_problem(cross, 403, "Tenant t2 is not one of the tenants the caller may use")
    # With two tenants and no header, the default tenant is not one of them.
    default = await gw.post("/ngsi-ld/v1/entities", json=body, headers=auth)
    assert "ngsild-tenant" not in default.json()["headers"]


async def test_api_keys_and_revocation(gw: httpx.AsyncClient) -> None:
    client = await register(gw, roles=["data-provider"])
    key = {"X-API-Key": client["apiKey"]}
    assert (await gw.get("/ngsi-ld/v1/types", headers=key)).status_code == 200
    resp = await gw.delete(f"/gateway/v1/clients/{client['id']}", headers=ADMIN)
    assert resp.status_code == 204
    assert (await gw.get(f"/gateway/v1/clients/{client['id']}", headers=ADMIN)).json()["revokedAt"]
    assert_problem(
        await gw.get("/ngsi-ld/v1/types", headers=key), 401, "The API key is unknown or revoked"
    )
    refused = await gw.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["id"], client["apiKey"]),
    )
    assert refused.status_code == 401


async def test_cors_and_security_headers(gw: httpx.AsyncClient) -> None:
    pre = await gw.options(
        "/ngsi-ld/v1/entities",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "https://app.example"
    assert pre.headers["access-control-allow-headers"] == "authorization"
    other = await gw.get("/catalogue/v1/x", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["x-frame-options"] == "DENY"
    health = await gw.get("/health", headers={"Origin": "https://app.example"})
    assert health.headers["access-control-allow-origin"] == "https://app.example"


async def test_rate_limit_answers_429_with_retry_after(
    settings_for: Callable[..., object], broker: StandIn
) -> None:
    settings = settings_for(
        "gateway", broker_url=broker.url, rate_limit_per_s=0.5, rate_limit_burst=3
    )
    async with serve(create_app(settings)) as gw:  # type: ignore[arg-type]
        statuses = [(await gw.get("/ngsi-ld/v1/types")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        resp = await gw.get("/ngsi-ld/v1/types")
        assert_problem(resp, 429, "The client made more requests than its rate limit allows")
        assert resp.headers["retry-after"] == "2"


async def test_rate_limit_holds_across_replicas_sharing_redis(
    settings_for: Callable[..., object], broker: StandIn
) -> None:
    settings = settings_for(
        "gateway",
        broker_url=broker.url,
        rate_limit_per_s=0.2,
        rate_limit_burst=4,
        redis_url="redis://127.0.0.1:6379/0",
    )
    async with (
        serve(create_app(settings)) as one,  # type: ignore[arg-type]
        serve(create_app(settings)) as two,  # type: ignore[arg-type]
    ):
        client = await register(one, roles=["data-provider"])
        key = {"X-API-Key": client["apiKey"]}
        statuses = [
            (await (one if n % 2 else two).get("/ngsi-ld/v1/types", headers=key)).status_code
            for n in range(6)
        ]
        assert statuses == [200, 200, 200, 200, 429, 429]


@pytest.fixture(scope="module")
def issuer_process(databases: dict[str, str]) -> Iterator[str]:
    """Another gateway process acting as the city's external OpenID Connect provider."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": databases["gateway"],
        "GATEWAY_PORT": str(port),
        "GATEWAY_PUBLIC_URL": url,
        "GATEWAY_ENVIRONMENT": "test",
        "GATEWAY_ADMIN_TOKEN": "issuer-admin-token",
    }
    proc = start_service(spec("gateway"), env, "127.0.0.1", port)
    try:
        wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_external_oidc_issuer_with_key_rotation(
    settings_for: Callable[..., object], broker: StandIn, issuer_process: str
) -> None:
    settings = settings_for(
        "gateway",
        broker_url=broker.url,
        auth_mode="enforce",
        issuer_enabled=False,
        oidc_issuers=issuer_process,
        jwks_min_refresh_s=0,
    )
    admin = {"Authorization": "Bearer issuer-admin-token"}
    async with httpx.AsyncClient(base_url=issuer_process) as idp:
        created = (
            await idp.post(
                "/gateway/v1/clients", json={"name": "p", "roles": ["data-provider"]}, headers=admin
            )
        ).json()

        async def token() -> str:
            resp = await idp.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(created["id"], created["apiKey"]),
            )
            return str(resp.json()["access_token"])

        first = await token()
        async with serve(create_app(settings)) as gw:  # type: ignore[arg-type]
            auth = {"Authorization": f"Bearer {first}"}
            resp = await gw.post("/ngsi-ld/v1/entities", json={}, headers=auth)
            assert resp.status_code == 200, resp.text
            assert (await gw.get("/oauth/jwks")).status_code == 404  # its own issuer is off
            rotated = await idp.post("/gateway/v1/signing-keys", headers=admin)
            assert rotated.status_code == 201
            second = await token()
            assert jwt.get_unverified_header(second)["kid"] == rotated.json()["kid"]
            resp = await gw.post(
                "/ngsi-ld/v1/entities", json={}, headers={"Authorization": f"Bearer {second}"}
            )
            assert resp.status_code == 200, resp.text
            old_kid = jwt.get_unverified_header(first)["kid"]
            retired = await idp.delete(f"/gateway/v1/signing-keys/{old_kid}", headers=admin)
            assert retired.status_code == 204


async def test_failed_credentials_count_against_the_address(
    settings_for: Callable[..., object], broker: StandIn
) -> None:
    settings = settings_for(
        "gateway", broker_url=broker.url, rate_limit_per_s=0.5, rate_limit_burst=2
    )
    async with serve(create_app(settings)) as gw:  # type: ignore[arg-type]
        bad = {"X-API-Key": "mims_guess"}
        statuses = [(await gw.get("/ngsi-ld/v1/types", headers=bad)).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]
