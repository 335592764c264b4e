"""The context broker application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from context_broker import __version__
from context_broker.batch.router import router as batch_router
from context_broker.batch.service import BatchService
from context_broker.contexts.mirror import ContextMirror
from context_broker.contexts.router import router as contexts_router
from context_broker.contexts.service import ContextService
from context_broker.datamodels.middleware import WarningsMiddleware
from context_broker.datamodels.registry import ModelRegistry, catalogue_lister
from context_broker.datamodels.router import router as datamodels_router
from context_broker.datamodels.service import ConformanceService
from context_broker.datamodels.validation import register_bundled_contexts
from context_broker.discovery.router import router as discovery_router
from context_broker.discovery.service import DiscoveryService
from context_broker.entities.indexed import ensure_indexes
from context_broker.entities.router import router as entities_router
from context_broker.entities.service import EntityService
from context_broker.settings import MIGRATIONS, BrokerSettings
from context_broker.subscriptions.notifier import Notifier
from context_broker.subscriptions.router import router as subscriptions_router
from context_broker.subscriptions.service import SubscriptionService
from context_broker.temporal.router import router as temporal_router
from context_broker.temporal.service import TemporalService
from mims_shared.health import Readiness
from mims_shared.settings import open_database
from mims_shared.telemetry import http_client
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_ngsild_problem


def create_app(settings: BrokerSettings | None = None) -> FastAPI:
    settings = settings or BrokerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        if settings.indexed_attributes:
            await ensure_indexes(settings.require_database_url(), settings.indexed_attributes)
        client = http_client(
            timeout=httpx.Timeout(settings.context_fetch_timeout_s),
            follow_redirects=True,
            limits=httpx.Limits(max_connections=20),
        )
        app.state.readiness = Readiness(db, MIGRATIONS)
        app.state.contexts = ContextService(
            client,
            allow_fetch=settings.fetch_remote_contexts,
            db=db,
            public_url=settings.public_base_url,
            mirror=ContextMirror(settings.context_mirror) if settings.context_mirror else None,
        )
        app.state.discovery = DiscoveryService(db)
        registry = ModelRegistry(
            app.state.contexts,
            client,
            catalogue_lister(client, settings.catalogue_url) if settings.catalogue_url else None,
            refresh_s=settings.models_refresh_s,
        )
        app.state.conformance = ConformanceService(
            db, registry, default_mode=settings.validation_default_mode
        )
        app.state.entities = EntityService(
            db, app.state.conformance, indexed=settings.indexed_attributes
        )
        app.state.batch = BatchService(db, app.state.entities, app.state.contexts)
        app.state.temporal = TemporalService(
            db, app.state.entities, page_limit=settings.temporal_page_limit
        )
        await app.state.temporal.prepare()
        partitions = asyncio.create_task(app.state.temporal.keep_partitions())
        app.state.subscriptions = SubscriptionService(db, app.state.contexts)
        notifier = Notifier(
            db, app.state.contexts, app.state.entities, lease_s=settings.notify_lease_s
        )
        app.state.notifier = notifier
        if settings.notifier:
            await notifier.start()
        try:
            yield
        finally:
            partitions.cancel()
            await notifier.stop()
            await client.aclose()
            await db.dispose()

    register_bundled_contexts()
    app = build_app(
        settings,
        contract="context-broker",
        title="MIMs context broker (NGSI-LD, MIM1/MIM2)",
        version=__version__,
        render=render_ngsild_problem,
        lifespan=lifespan,
        routers=[
            entities_router,
            batch_router,
            discovery_router,
            contexts_router,
            subscriptions_router,
            datamodels_router,
            temporal_router,
        ],
        strip_trailing_slash=True,
    )
    app.add_middleware(WarningsMiddleware)
    return app
