"""Fixtures of the honesty tests (servers in checks/tests/servers.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

import mims_check.cli  # noqa: F401  (registers every check)
from checks.tests.servers import LiveServer, Saboteur
from mims_check.runner import REGISTRY, Context, Result, run_one


@pytest.fixture(scope="session")
def broker(settings_for: Callable[..., Any]) -> Iterator[tuple[str, Saboteur]]:
    from context_broker.app import create_app

    saboteur = Saboteur(create_app(settings_for("context-broker")))  # type: ignore[arg-type]
    server = LiveServer(saboteur)
    yield server.url, saboteur
    server.stop()


@pytest.fixture(scope="session")
def marketplace(settings_for: Callable[..., Any]) -> Iterator[tuple[str, Saboteur]]:
    from marketplace.app import create_app

    saboteur = Saboteur(create_app(settings_for("marketplace")))  # type: ignore[arg-type]
    server = LiveServer(saboteur)
    yield server.url, saboteur
    server.stop()


@pytest.fixture
def live() -> Iterator[Callable[..., LiveServer]]:
    """Start fakes for one test; they stop after it."""
    started: list[LiveServer] = []

    def start(app: ASGIApp, **ssl: str) -> LiveServer:
        server = LiveServer(app, **ssl)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


@pytest.fixture(autouse=True)
def _harmless(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every saboteur is transparent again after each test."""
    yield
    for name in ("broker", "marketplace"):
        if name in request.fixturenames:
            request.getfixturevalue(name)[1].reset()


Outcome = Callable[..., Awaitable[Result]]


@pytest.fixture
async def outcome() -> AsyncIterator[Outcome]:
    """``await outcome("mim1.entity-crud", broker=url, ...)``: the check's result."""
    async with httpx.AsyncClient(timeout=10) as client:

        async def run(name: str, **options: Any) -> Result:
            urls = {
                k: options.pop(k) for k in ("broker", "catalogue", "marketplace", "gateway")
                if k in options
            }  # fmt: skip
            options.setdefault("notification_timeout", 20.0)
            ctx = Context(urls=urls, client=client, run_id=f"t{time.monotonic_ns()}", **options)
            return await run_one(REGISTRY[name], ctx)

        yield run
