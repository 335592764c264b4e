"""The catalogue application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalogue import __version__
from catalogue.ckan.router import ActionEdge, action_of
from catalogue.ckan.router import router as ckan_router
from catalogue.ckan.service import CkanService
from catalogue.documents.router import router as documents_router
from catalogue.documents.service import DocumentService
from catalogue.harvest.router import router as harvest_router
from catalogue.harvest.service import HarvestService, scheduled
from catalogue.records.router import router as records_router
from catalogue.records.service import RecordService
from catalogue.settings import MIGRATIONS, CatalogueSettings
from catalogue.vocabularies.router import router as vocabularies_router
from mims_shared.health import Readiness
from mims_shared.settings import open_database
from mims_shared.web.edge import EdgeApp, install_edge
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_problem_json


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    settings = settings or CatalogueSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        app.state.readiness = Readiness(db, MIGRATIONS)
        app.state.records = RecordService(db, settings.public_base_url)
        lang = settings.catalogue_language
        app.state.ckan = CkanService(
            db,
            settings.public_base_url,
            title=settings.catalogue_title,
            description=settings.catalogue_description,
            cache_size=settings.search_cache_size,
            search_index=settings.search_index,
            index_refresh_s=settings.search_index_refresh_s,
        )
        app.state.ckan.index.start()
        app.state.documents = DocumentService(
            db,
            settings.public_base_url,
            title={lang: settings.catalogue_title},
            description={lang: settings.catalogue_description},
            publisher_name=settings.publisher_name,
            homepage=settings.homepage,
        )
        app.state.harvest = HarvestService(db, settings)
        try:
            if settings.broker_harvest_interval_s > 0:
                await app.state.harvest.ensure_broker_source()
            async with scheduled(app.state.harvest, settings.harvest_poll_s):
                yield
        finally:
            await app.state.ckan.index.close()
            await db.dispose()

    app = build_app(
        settings,
        contract="catalogue",
        title="MIMs catalogue (DCAT-AP 3)",
        version=__version__,
        render=render_problem_json,
        lifespan=lifespan,
        routers=[
            ckan_router,
            records_router,
            documents_router,
            harvest_router,
            vocabularies_router,
        ],
        app_class=EdgeApp,
    )
    # GET and POST on the CKAN action paths: in front of the middleware and routing.
    install_edge(app, settings, lambda scope: action_of(scope) is not None, ActionEdge(app))
    return app
