"""Liveness (``/health``) and readiness (``/ready``) for every service.

``/health`` answers as long as the process serves requests (a Kubernetes liveness probe);
``/ready`` answers 200 only when the database is reachable and every migration on disk has
been applied (a readiness probe), 503 otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from mims_shared.db import Database
from mims_shared.errors import ServiceUnavailable
from mims_shared.migrations import load_migrations

HEALTH_MEDIA_TYPE = "application/health+json"


def _json(body: Mapping[str, object], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=HEALTH_MEDIA_TYPE)


class Readiness:
    """Checks that the database answers and holds every migration of ``folder``."""

    def __init__(self, db: Database, migrations_folder: Path) -> None:
        self.db = db
        self.expected = {m.version for m in load_migrations(migrations_folder)}

    async def __call__(self) -> dict[str, str]:
        try:
            async with self.db.unit_of_work(transaction=False) as uow:
                rows = await uow.connection.fetch("SELECT version FROM schema_migrations")
                applied = {r[0] for r in rows}
        except ServiceUnavailable:
            return {"database": "down", "migrations": "unknown"}
        except Exception:  # connectivity errors come as ServiceUnavailable (unit_of_work)
            return {"database": "up", "migrations": "missing"}
        return {
            "database": "up",
            "migrations": "applied" if self.expected <= applied else "pending",
        }


ReadyCheck = Callable[[], Awaitable[dict[str, str]]]
DependencyCheck = Callable[[], Awaitable[dict[str, dict[str, Any]]]]


def health_router(service: str, version: str) -> APIRouter:
    """The two probes; ``/ready`` runs ``app.state.readiness`` (set by the lifespan)."""
    router = APIRouter()

    @router.get("/health", include_in_schema=False)
    async def health(request: Request) -> Response:
        """Liveness: the process is serving (200 while it does).

        When the app holds ``state.dependencies`` (the gateway: its upstreams), their states
        are listed and the overall status is ``degraded`` unless every one is up.
        """
        body: dict[str, object] = {"status": "up", "service": service, "version": version}
        dependencies: DependencyCheck | None = getattr(request.app.state, "dependencies", None)
        if dependencies is not None:
            services = await dependencies()
            body["services"] = services
            if any(s.get("status") != "up" for s in services.values()):
                body["status"] = "degraded"
        return _json(body)

    @router.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> Response:
        """Readiness: database reachable, migrations applied."""
        check: ReadyCheck | None = getattr(request.app.state, "readiness", None)
        checks = await check() if check is not None else {"database": "starting"}
        ok = checks.get("database") == "up" and checks.get("migrations") == "applied"
        body = {"status": "ready" if ok else "not-ready", "service": service, "checks": checks}
        return _json(body, 200 if ok else 503)

    return router
