"""The marketplace application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI

from marketplace import __version__
from marketplace.catalogue.client import CatalogueClient
from marketplace.entitlements.router import router as entitlements_router
from marketplace.entitlements.service import EntitlementService
from marketplace.events.dispatcher import Dispatcher
from marketplace.events.service import HubService
from marketplace.orders.service import CancelOrderService, OrderService, ProductService
from marketplace.resources.offerings import OfferingService
from marketplace.resources.router import hub_router, resource_router
from marketplace.resources.service import ResourceService
from marketplace.settings import MIGRATIONS, MarketSettings
from marketplace.tmf.kinds import APIS, KINDS
from mims_shared.health import Readiness
from mims_shared.settings import open_database
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_tmf_error


def create_app(settings: MarketSettings | None = None) -> FastAPI:
    settings = settings or MarketSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        base = settings.public_base_url
        timeout = httpx.Timeout(settings.http_timeout_s)
        async with (
            httpx.AsyncClient(timeout=timeout) as outbound,
            httpx.AsyncClient(timeout=timeout) as catalogue_http,
        ):
            dispatcher = Dispatcher(
                db,
                outbound,
                poll_s=settings.outbox_poll_s,
                backoff_s=settings.outbox_backoff_s,
                max_attempts=settings.outbox_max_attempts,
            )
            catalogue = CatalogueClient(settings.catalogue_url, catalogue_http)
            special: dict[str, ResourceService] = {
                "productOffering": OfferingService(db, base, dispatcher, catalogue),
                "productOrder": OrderService(db, base, dispatcher),
                "cancelProductOrder": CancelOrderService(db, base, dispatcher),
                "product": ProductService(db, base, dispatcher),
            }
            app.state.readiness = Readiness(db, MIGRATIONS)
            app.state.resources = {
                k.name: special.get(k.name) or ResourceService(k, db, base, dispatcher)
                for k in KINDS
            }
            app.state.hubs = {a.path: HubService(db, a, base) for a in APIS}
            app.state.entitlements = EntitlementService(db, base)
            app.state.dispatcher = dispatcher
            dispatcher.start()
            try:
                yield
            finally:
                await dispatcher.stop()
                await db.dispose()

    routers: list[APIRouter] = [resource_router(k) for k in KINDS]
    routers += [hub_router(a) for a in APIS]
    routers.append(entitlements_router)
    return build_app(
        settings,
        contract="marketplace",
        title="MIMs marketplace (MIM3, TM Forum Open APIs)",
        version=__version__,
        render=render_tmf_error,
        lifespan=lifespan,
        routers=routers,
    )
