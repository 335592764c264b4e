"""The proxy against real local HTTP upstreams: an echo server, a silent one, a broken one."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import free_port, serve
from gateway.app import create_app


class Echo(BaseHTTPRequestHandler):
    """Answers with what it received: method, path, headers and body size."""

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def _answer(self) -> None:
        if "chunked" in self.headers.get("transfer-encoding", ""):
            body = self._read_chunked()
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
        out = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "received": len(body),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Upstream", "echo")
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up mid-body (the 413 test) is expected here


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def silent() -> Iterator[str]:
    """Accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture(scope="module")
def garbage() -> Iterator[str]:
    """Answers every connection with bytes that are not HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    stop = threading.Event()

    def run() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    sock.close()


@pytest.fixture(scope="module")
async def gw(
    settings_for: Callable[..., object], echo: str, silent: str, garbage: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        "gateway",
        broker_url=echo,
        catalogue_url=silent,
        marketplace_url=garbage,
        read_timeout_s=0.5,
        max_body_bytes=64 * 1024,
    )
    async with serve(create_app(settings)) as client:  # type: ignore[arg-type]
        yield client


async def test_forwards_method_path_query_and_body(gw: httpx.AsyncClient) -> None:
    resp = await gw.post(
        "/ngsi-ld/v1/entities?x=1&y=%C3%A9",
        content=b"a" * 1000,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 200
    seen = resp.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/ngsi-ld/v1/entities?x=1&y=%C3%A9"
    assert seen["received"] == 1000
    assert resp.headers["x-upstream"] == "echo"
    assert resp.headers.get_list("x-request-id") == [resp.headers["x-request-id"]]


async def test_sets_forwarding_headers_and_drops_identity_headers(
    gw: httpx.AsyncClient,
) -> None:
    resp = await gw.get(
        "/ngsi-ld/v1/types",
        headers={
            "X-Mims-Subject": "admin",
            "X-Mims-Roles": "city-admin",
            "Connection": "keep-alive",
            "X-Request-ID": "abc-123",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
    )
    headers = resp.json()["headers"]
    assert "x-mims-subject" not in headers and "x-mims-roles" not in headers
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == "testserver"
    assert headers["x-request-id"] == "abc-123"
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


async def test_body_over_the_limit_is_refused_before_forwarding(gw: httpx.AsyncClient) -> None:
    resp = await gw.post(
        "/ngsi-ld/v1/entities",
        content=b"a" * (65 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 413
    assert resp.json()["type"] == "urn:mims:problem:payload-too-large"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b"a" * 1024

    streamed = await gw.post(
        "/ngsi-ld/v1/entities", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_upstream_down_is_503(settings_for: Callable[..., object]) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    settings = settings_for("gateway", broker_url=closed)
    async with serve(create_app(settings)) as client:  # type: ignore[arg-type]
        resp = await client.get("/ngsi-ld/v1/entities/urn:x:1")
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["detail"] == (
            "The context-broker service cannot be reached; try again shortly"
        )
        health = (await client.get("/health")).json()
        assert health["status"] == "degraded"
        assert health["services"]["context-broker"]["status"] == "down"


async def test_upstream_silent_is_504(gw: httpx.AsyncClient) -> None:
    resp = await gw.get("/catalogue/v1/datasets")
    assert resp.status_code == 504
    assert resp.json()["type"] == "urn:mims:problem:upstream-timeout"


async def test_upstream_garbage_is_502(gw: httpx.AsyncClient) -> None:
    resp = await gw.get("/tmf-api/partyManagement/v5/organization")
    assert resp.status_code == 502
    assert resp.json()["type"] == "urn:mims:problem:bad-gateway"
