"""Fixtures for the whole suite: a real PostgreSQL, one fresh database per service, the apps.

PostgreSQL is the server named by ``DATABASE_URL`` when it is set, else the embedded one
(``.data/postgres``), started for the run and stopped after it if the run started it.
Each service gets a database of its own, created and migrated for this run and dropped
after it, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mims_stack.database import DATA_DIR, drop, prepare
from mims_stack.embedded import EmbeddedPostgres
from mims_stack.services import SERVICES, spec

ROOT = Path(__file__).parent
RUN_ID = uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of the PostgreSQL server the suite runs on."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    embedded = EmbeddedPostgres(ROOT / DATA_DIR)
    url = embedded.start()
    yield url
    if embedded.started_here:
        embedded.stop()


@pytest.fixture(scope="session")
async def databases(pg_server: str) -> AsyncIterator[dict[str, str]]:
    """``{service: url}``: a fresh, migrated database per service for this run."""
    names = {s.name: f"mims_test_{s.name.replace('-', '_')}_{RUN_ID}" for s in SERVICES}
    urls = await prepare(pg_server, SERVICES, names)
    yield urls
    await drop(list(urls.values()))


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``app`` in process, with its lifespan run."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="session")
def settings_for(databases: dict[str, str]) -> Callable[..., object]:
    """Build a service's settings pointing at its test database."""

    def build(service: str, **overrides: object) -> object:
        module = __import__(f"{spec(service).package}.settings", fromlist=["x"])
        cls = next(
            v
            for k, v in vars(module).items()
            if k.endswith("Settings") and k != "ServiceSettings" and isinstance(v, type)
        )
        return cls(
            database_url=databases[service], access_log=False, environment="test", **overrides
        )

    return build


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A real HTTP server in a thread that records every request it gets (notifications,
    events). ``statuses`` are answered in turn (then 200 for good); ``received`` waits."""

    def __init__(self, port: int | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.requests.append((self.path, dict(self.headers.items()), body))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self, path: str | None = None) -> list[Any]:
        import json

        with self._lock:
            return [json.loads(b) for p, _, b in self.requests if path is None or p == path]

    def headers(self, path: str | None = None) -> list[dict[str, str]]:
        with self._lock:
            return [h for p, h, _ in self.requests if path is None or p == path]

    async def received(self, n: int, path: str | None = None, timeout: float = 10.0) -> list[Any]:
        """The first ``n`` bodies posted to ``path``, waiting up to ``timeout`` seconds."""
        import asyncio
        import time

        deadline = time.monotonic() + timeout
        while len(self.bodies(path)) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{n} requests to {path} expected, got {self.bodies(path)}")
            await asyncio.sleep(0.02)
        return self.bodies(path)[:n]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
