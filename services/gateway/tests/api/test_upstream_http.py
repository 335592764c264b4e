"""The pooled HTTP/1.1 client against a raw socket upstream: retries only for idempotent
requests, large chunked answers streamed through whole, keep-alive reuse."""

from __future__ import annotations

import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from conftest import serve
from gateway.app import create_app
from gateway.settings import GatewaySettings

BIG = 3 * 1024 * 1024


class RawUpstream:
    """Per connection: the first request of the first ``drop`` connections is read and the
    connection closed without an answer; otherwise ``/big`` is a chunked 3 MiB body and any
    other path a small answer naming the connection number."""

    def __init__(self, drop: int) -> None:
        self.drop = drop
        self.connections = 0
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn, self.connections), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.requests.append(head.split(b"\r\n")[0])
                if number <= self.drop:
                    return
                if b" /ngsi-ld/big " in head:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    piece = b"x" * 65536
                    for _ in range(BIG // len(piece)):
                        conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                    conn.sendall(b"0\r\n\r\n")
                else:
                    body = f"connection {number}".encode()
                    sent = b"" if head.startswith(b"HEAD ") else body  # RFC 9110, 9.3.2
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), sent)
                    )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[RawUpstream]:
    u = RawUpstream(drop=1)
    yield u
    u.close()


@pytest.fixture
async def gw(
    settings_for: Callable[..., GatewaySettings], upstream: RawUpstream
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for("gateway", broker_url=upstream.url, read_timeout_s=5)
    async with serve(create_app(settings)) as client:
        yield client


async def test_idempotent_request_is_retried_on_a_fresh_connection(
    gw: httpx.AsyncClient, upstream: RawUpstream
) -> None:
    resp = await gw.get("/ngsi-ld/v1/entities/urn:x:1")
    assert resp.status_code == 200 and resp.text == "connection 2"
    again = await gw.get("/ngsi-ld/v1/entities/urn:x:2")
    assert again.text == "connection 2"  # kept alive and reused
    assert upstream.connections == 2


async def test_a_post_is_not_sent_twice(gw: httpx.AsyncClient, upstream: RawUpstream) -> None:
    resp = await gw.post("/ngsi-ld/v1/entities", json={"id": "urn:x:1"})
    assert resp.status_code == 502
    assert resp.json()["type"] == "urn:mims:problem:bad-gateway"
    assert upstream.requests == [b"POST /ngsi-ld/v1/entities HTTP/1.1"]


async def test_a_large_chunked_answer_passes_whole(
    gw: httpx.AsyncClient, upstream: RawUpstream
) -> None:
    await gw.get("/ngsi-ld/v1/types")  # the dropped first connection
    resp = await gw.get("/ngsi-ld/big")
    assert resp.status_code == 200 and len(resp.content) == BIG
    assert "content-length" not in resp.headers
    # Seen from the server side: the body leaves in pieces as they come, never whole.
    app = gw._transport.app  # type: ignore[attr-defined]
    pieces: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.body":
            pieces.append(len(message["body"]))  # type: ignore[arg-type]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/ngsi-ld/big",
        "raw_path": b"/ngsi-ld/big",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    assert sum(pieces) == BIG and max(pieces) <= 65536 and len(pieces) > 40


async def test_head_keeps_the_length_and_has_no_body(
    gw: httpx.AsyncClient, upstream: RawUpstream
) -> None:
    await gw.get("/ngsi-ld/v1/types")  # the dropped first connection
    resp = await gw.head("/ngsi-ld/v1/entities/urn:x:1")
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers.get_list("content-length") == ["12"]
    after = await gw.get("/ngsi-ld/v1/entities/urn:x:1")
    assert after.text == "connection 2"  # the connection stayed usable after the HEAD
