"""The marketplace application: ``create_app(settings)`` is the only wiring point."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from marketplace import __version__
from marketplace.party.router import router as party_router
from marketplace.party.service import OrganizationService
from marketplace.settings import MIGRATIONS, MarketSettings
from mims_shared.health import Readiness
from mims_shared.settings import open_database
from mims_shared.web.factory import build_app
from mims_shared.web.formats import render_tmf_error


def create_app(settings: MarketSettings | None = None) -> FastAPI:
    settings = settings or MarketSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = open_database(settings)
        app.state.readiness = Readiness(db, MIGRATIONS)
        app.state.organizations = OrganizationService(db, settings.public_base_url)
        try:
            yield
        finally:
            await db.dispose()

    return build_app(
        settings,
        contract="marketplace",
        title="MIMs marketplace (MIM3, TM Forum Open APIs)",
        version=__version__,
        render=render_tmf_error,
        lifespan=lifespan,
        routers=[party_router],
    )
