"""The gateway application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import Scope

from gateway import __version__
from gateway.clients.router import events as events_router
from gateway.clients.router import router as clients_router
from gateway.clients.service import ClientService
from gateway.entitlements.service import Entitlements
from gateway.identity.keys import SigningKeys
from gateway.identity.router import router as issuer_router
from gateway.identity.tokens import BuiltInIssuer, KeySource, OidcIssuer, TokenVerifier
from gateway.proxy.edge import EdgeMiddleware, Gateway
from gateway.proxy.router import router as proxy_router
from gateway.proxy.service import ProxyService
from gateway.ratelimit.buckets import Buckets, LocalBuckets, RedisBuckets
from gateway.routing.table import default_table
from gateway.settings import MIGRATIONS, GatewaySettings
from mims_shared.health import Readiness
from mims_shared.http1 import Pool
from mims_shared.settings import open_database
from mims_shared.telemetry import http_client
from mims_shared.web.edge import EdgeApp, install_edge
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_problem_json


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    holder: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s = settings
        db = open_database(s)
        client = http_client(
            timeout=httpx.Timeout(
                connect=s.connect_timeout_s,
                read=s.read_timeout_s,
                write=s.read_timeout_s,
                pool=s.connect_timeout_s,
            ),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            follow_redirects=False,
        )
        table = default_table(s.broker_url, s.catalogue_url, s.marketplace_url)
        pools = {
            u.name: Pool(
                u.base_url,
                max_idle=s.max_upstream_connections,
                connect_timeout=s.connect_timeout_s,
                read_timeout=s.read_timeout_s,
            )
            for u in table.upstreams
        }
        clients = ClientService(db, s.api_key_cache_s)
        sources: dict[str, KeySource] = {
            iss.rstrip("/"): OidcIssuer(
                iss, client, cache_s=s.jwks_cache_s, min_refresh_s=s.jwks_min_refresh_s
            )
            for iss in s.oidc_issuers
        }
        issuer: BuiltInIssuer | None = None
        if s.issuer_enabled:
            keys = SigningKeys(db, s.jwks_min_refresh_s)
            await keys.load()
            issuer = BuiltInIssuer(s.issuer, keys, s.audience, s.token_lifetime_s)
            sources[s.issuer] = issuer
        verifier = TokenVerifier(
            sources,
            audience=s.audience,
            leeway=s.clock_skew_s,
            roles_claim=s.roles_claim,
            tenants_claim=s.tenants_claim,
            party_claim=s.party_claim,
        )
        entitlements = Entitlements(client, s.marketplace_url, s.entitlement_cache_s)
        buckets: Buckets = (
            RedisBuckets(s.redis_url, s.rate_limit_per_s, s.rate_limit_burst)
            if s.redis_url
            else LocalBuckets(s.rate_limit_per_s, s.rate_limit_burst)
        )
        proxy = ProxyService(table, client)
        app.state.readiness = Readiness(db, MIGRATIONS)
        app.state.proxy = proxy
        app.state.clients = clients
        app.state.issuer = issuer
        app.state.entitlements = entitlements
        holder["gateway"] = Gateway(
            table=table,
            pools=pools,
            verifier=verifier,
            clients=clients,
            entitlements=entitlements,
            buckets=buckets,
            admin_token=s.admin_token.get_secret_value(),
            enforce=s.auth_mode == "enforce",
            open_types=frozenset(s.open_types),
            max_body_bytes=s.max_body_bytes,
            retries=s.upstream_retries,
            cors_origins=frozenset(s.cors_origins),
            https=s.public_url.startswith("https://"),
        )

        async def dependencies() -> dict[str, dict[str, object]]:
            return await proxy.health(s.health_timeout_s)

        app.state.dependencies = dependencies
        try:
            yield
        finally:
            holder.pop("gateway", None)
            for pool in pools.values():
                pool.close()
            await buckets.close()
            await client.aclose()
            await db.dispose()

    app = build_app(
        settings,
        contract="gateway",
        title="MIMs gateway (MIM6)",
        version=__version__,
        render=render_problem_json,
        lifespan=lifespan,
        routers=[issuer_router, events_router, clients_router, proxy_router],
        openapi_path="/gateway/openapi.json",
        app_class=EdgeApp,
    )
    # Innermost of the middleware: inside the request context (request id, trace, access
    # log), in front of the routes.
    app.user_middleware.append(Middleware(EdgeMiddleware, holder=holder))

    def at_edge(scope: Scope) -> bool:  # a path a service owns: proxied at the edge
        gateway = holder.get("gateway")
        return gateway is not None and gateway.table.resolve(scope["path"]) is not None

    install_edge(app, settings, at_edge, EdgeMiddleware(app, holder))
    return app
