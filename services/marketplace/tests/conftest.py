"""A real HTTP server for tests: it records every request it receives.

It stands in at the process edge for what the marketplace calls: event listeners (hub
callbacks) and the catalogue (``GET /catalogue/v1/datasets/{id}``, ``PUT``/``DELETE``
``.../policies/{uid}``). It can be told to fail a number of times first (retries).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from conftest import free_port, serve
from marketplace.app import create_app


@dataclass
class Received:
    method: str
    path: str
    body: Any


@dataclass
class Receiver:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    #: Catalogue records served at /catalogue/v1/{datasets|data-services}/{id}.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Answer 500 to this many POSTs before accepting.
    fail_next: int = 0

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, count: int, path_prefix: str, timeout: float = 10.0) -> list[Received]:
        """The requests under ``path_prefix`` once there are ``count`` of them."""
        for _ in range(int(timeout / 0.02)):
            got = [r for r in self.requests if r.path.startswith(path_prefix)]
            if len(got) >= count:
                return got
            await asyncio.sleep(0.02)
        raise AssertionError(f"only {len(got)} of {count} requests reached {path_prefix}")


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(request: Request) -> Response:
        raw = await request.body()
        body = orjson.loads(raw) if raw else None
        path = request.url.path
        state.requests.append(Received(request.method, path, body))
        if request.method == "GET":
            kind, _, rid = path.removeprefix("/catalogue/v1/").partition("/")
            record = state.records.get(f"{kind}/{rid}")
            if record is None:
                return Response(b'{"title": "not found"}', 404, media_type="application/json")
            return Response(orjson.dumps(record), 200, media_type="application/json")
        if request.method == "POST" and state.fail_next > 0:
            state.fail_next -= 1
            return Response(status_code=500)
        return Response(status_code=204 if request.method != "POST" else 201)

    app = Starlette(
        routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PUT", "DELETE"])]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture(scope="module")
async def client(
    settings_for: Callable[..., object], receiver: Receiver
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        "marketplace",
        catalogue_url=receiver.url,
        outbox_poll_s=0.05,
        outbox_backoff_s=0.05,
        outbox_max_attempts=4,
    )
    async with serve(create_app(settings)) as c:  # type: ignore[arg-type]
        yield c
