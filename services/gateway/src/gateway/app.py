"""The gateway application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from gateway import __version__
from gateway.clients.router import router as clients_router
from gateway.clients.service import ClientService
from gateway.proxy.router import router as proxy_router
from gateway.proxy.service import ProxyService
from gateway.routing.table import default_table
from gateway.settings import MIGRATIONS, GatewaySettings
from mims_shared.health import Readiness
from mims_shared.settings import open_database
from mims_shared.telemetry import http_client
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_problem_json


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        client = http_client(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_s,
                read=settings.read_timeout_s,
                write=settings.read_timeout_s,
                pool=settings.connect_timeout_s,
            ),
            limits=httpx.Limits(
                max_connections=settings.max_upstream_connections,
                max_keepalive_connections=settings.max_upstream_connections,
            ),
            follow_redirects=False,
        )
        table = default_table(settings.broker_url, settings.catalogue_url, settings.marketplace_url)
        proxy = ProxyService(table, client, settings.max_body_bytes)
        app.state.readiness = Readiness(db, MIGRATIONS)
        app.state.proxy = proxy
        app.state.clients = ClientService(db)

        async def dependencies() -> dict[str, dict[str, object]]:
            return await proxy.health(settings.health_timeout_s)

        app.state.dependencies = dependencies
        try:
            yield
        finally:
            await client.aclose()
            await db.dispose()

    return build_app(
        settings,
        contract="gateway",
        title="MIMs gateway (MIM6)",
        version=__version__,
        render=render_problem_json,
        lifespan=lifespan,
        routers=[clients_router, proxy_router],
        openapi_path="/gateway/openapi.json",
    )
