"""Losing PostgreSQL: /ready fails, requests answer 503, and the service recovers by itself.

This test runs its own embedded PostgreSQL (pgserver) in a temporary folder so it can stop
and restart it without touching the server the rest of the suite uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from mims_stack.database import prepare
from mims_stack.embedded import EmbeddedPostgres
from mims_stack.services import spec
from mims_stack.supervisor import service_env, start_service, wait_ready

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("faults")) / "pg")
    server.start()
    yield server
    server.stop()


def _poll(url: str, want: int, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=2.0)
            if last.status_code == want:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered {want}; last: {last and last.text}")


def test_broker_survives_losing_its_database(
    own_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    svc = spec("context-broker")
    server_url = own_postgres.start()
    urls = asyncio.run(prepare(server_url, (svc,)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = service_env(svc, urls[svc.name], port, {}, {"BROKER_DB_CONNECT_TIMEOUT_S": "1"})
    with (tmp_path / "broker.log").open("wb") as log:
        proc = start_service(svc, env, "127.0.0.1", port, log.fileno())
    try:
        wait_ready(base, proc)
        eid = "urn:ngsi-ld:ParkingSpot:fault-1"
        created = httpx.post(f"{base}/ngsi-ld/v1/entities", json={"id": eid, "type": "T"})
        assert created.status_code == 201

        own_postgres.stop()
        ready = _poll(f"{base}/ready", 503)
        assert ready.json()["checks"]["database"] == "down"
        lost = _poll(f"{base}/ngsi-ld/v1/entities/{eid}", 503)
        assert lost.json()["type"] == ERR + "InternalError"
        assert lost.json()["detail"] == "The database cannot be reached"
        assert lost.headers["retry-after"] == "1"
        refused = httpx.post(
            f"{base}/ngsi-ld/v1/entities", json={"id": "urn:ngsi-ld:T:while-down", "type": "T"}
        )
        assert refused.status_code == 503
        assert httpx.get(f"{base}/health").status_code == 200  # alive, only not ready

        own_postgres.start()
        _poll(f"{base}/ready", 200)
        back = _poll(f"{base}/ngsi-ld/v1/entities/{eid}", 200)
        assert back.json() == {"id": eid, "type": "T"}
        # The write refused while the database was away left nothing behind.
        gone = httpx.get(f"{base}/ngsi-ld/v1/entities/urn:ngsi-ld:T:while-down")
        assert gone.status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)
