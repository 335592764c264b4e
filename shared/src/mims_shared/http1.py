"""HTTP/1.1 to one origin over pooled keep-alive connections (RFC 9112).

Two hot paths spend their time here: the gateway's proxy and the broker's notifications.
The client does only what they need: one write of the request head (and a small body), one
read of the response head, then the body framed by ``Content-Length``, ``chunked`` or the
end of the connection (RFC 9112, 6.3), handed on piece by piece. A general-purpose client
(httpx) costs several times more CPU per request, most of it in its connection pool's
bookkeeping; general-purpose calls (health, OpenAPI documents, JWKS, the marketplace) still
use it.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Requests that may be sent again when the first attempt failed (RFC 9110, 9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_IDLE_MAX_S = 4.0  # below uvicorn's 5 s keep-alive: an idle connection is dropped first
_STREAM_PIECE = 64 * 1024
_WHOLE_BODY_MAX = 256 * 1024


class UpstreamError(Exception):
    """The upstream could not be reached, timed out or answered with broken HTTP."""


class ConnectFailed(UpstreamError):
    pass


class TimedOut(UpstreamError):
    pass


class BrokenResponse(UpstreamError):
    pass


class _Conn:
    __slots__ = ("idle_since", "reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0
        self.reused = False

    def close(self) -> None:
        self.writer.close()


@dataclass(slots=True)
class Response:
    status: int
    #: Header lines as received (names lower-cased), framing headers removed.
    headers: list[tuple[bytes, bytes]]
    length: int | None
    chunked: bool
    until_close: bool
    conn: _Conn | None
    pool: Pool
    done: bool = False

    async def read(self, limit: int) -> bytes:
        """The whole body, at most ``limit`` bytes (more is a :class:`BrokenResponse`)."""
        if self.length is not None and self.length <= limit and self.conn is not None:
            # The common case in one read, without an async generator's set-up.
            try:
                if self.length:
                    async with asyncio.timeout(self.pool.read_timeout):
                        body = await self.conn.reader.readexactly(self.length)
                else:
                    body = b""
                self.done = True
                return body
            except TimeoutError:
                raise TimedOut("the response body stalled") from None
            except (asyncio.IncompleteReadError, OSError) as exc:
                raise BrokenResponse(f"the response body is broken: {type(exc).__name__}") from None
            finally:
                self.release()
        parts = [piece async for piece in self.pieces(limit)]
        return b"".join(parts)

    async def pieces(self, limit: int | None = None) -> AsyncIterator[bytes]:
        """The body in pieces; the connection goes back to the pool at the end."""
        assert self.conn is not None, "the body was read already"
        reader, timeout, total = self.conn.reader, self.pool.read_timeout, 0
        try:
            if self.length is not None:
                left = self.length
                if limit is not None and left > limit:
                    raise BrokenResponse(f"the response body exceeds {limit} bytes")
                while left:
                    n = left if left <= _WHOLE_BODY_MAX else _STREAM_PIECE
                    async with asyncio.timeout(timeout):
                        piece = await reader.readexactly(n)
                    left -= n
                    yield piece
            elif self.chunked:
                while True:
                    async with asyncio.timeout(timeout):
                        line = await reader.readline()
                        size = int(line.split(b";", 1)[0], 16)
                        if size == 0:
                            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                                pass  # trailer fields are dropped (RFC 9112, 7.1.2)
                            break
                        piece = await reader.readexactly(size + 2)
                    total += size
                    if limit is not None and total > limit:
                        raise BrokenResponse(f"the response body exceeds {limit} bytes")
                    yield piece[:-2]
            elif self.until_close:
                while True:
                    async with asyncio.timeout(timeout):
                        piece = await reader.read(_STREAM_PIECE)
                    if not piece:
                        break
                    total += len(piece)
                    if limit is not None and total > limit:
                        raise BrokenResponse(f"the response body exceeds {limit} bytes")
                    yield piece
            self.done = True
        except TimeoutError:
            raise TimedOut("the response body stalled") from None
        except (asyncio.IncompleteReadError, ValueError, OSError) as exc:
            raise BrokenResponse(f"the response body is broken: {type(exc).__name__}") from None
        finally:
            self.release()

    def release(self) -> None:
        """Back to the pool when the body was read whole on a reusable connection."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.done and not self.until_close:
            self.pool.give_back(conn)
        else:
            conn.close()


class Pool:
    """Keep-alive connections to one ``http://host:port`` (or ``https://``, with the
    system's trusted certificates)."""

    def __init__(
        self, base_url: str, *, max_idle: int, connect_timeout: float, read_timeout: float
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"The upstream {base_url!r} must be an http:// or https:// URL")
        tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if tls else 80)
        self.ssl = ssl.create_default_context() if tls else None
        self.host_header = parts.netloc.rpartition("@")[2].encode("latin-1")
        self.prefix = parts.path.rstrip("/").encode("latin-1")
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle: deque[_Conn] = deque()

    async def _connect(self) -> _Conn:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    limit=2**20,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError:
            raise ConnectFailed("connecting timed out") from None
        except OSError as exc:  # ssl.SSLError included
            raise ConnectFailed(f"cannot connect: {exc.strerror or type(exc).__name__}") from None
        return _Conn(reader, writer)

    def _take_idle(self) -> _Conn | None:
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if now - conn.idle_since < _IDLE_MAX_S and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        return None

    def give_back(self, conn: _Conn) -> None:
        if len(self.idle) >= self.max_idle or conn.reader.at_eof():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self.idle.append(conn)

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()

    async def send(
        self,
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | AsyncIterator[bytes] | None,
        retries: int,
    ) -> Response:
        """Send one request; the answer's head is read, its body is left to the caller.

        A request with a streamed body is sent once. Otherwise a failure before any byte
        of the answer is retried on a fresh connection: always for idempotent methods, and
        for the others only when a reused keep-alive connection turned out to be closed.
        """
        lines = [method.encode("latin-1"), b" ", self.prefix, target, b" HTTP/1.1\r\nhost: "]
        lines.append(self.host_header)
        for name, value in headers:
            lines += (b"\r\n", name, b": ", value)
        streamed = body is not None and not isinstance(body, bytes)
        if isinstance(body, bytes) or body is None:
            whole = body or b""
            lines += (b"\r\ncontent-length: ", str(len(whole)).encode(), b"\r\n\r\n")
            if len(whole) <= _WHOLE_BODY_MAX:
                lines.append(whole)
                body = None
        else:
            lines.append(b"\r\ntransfer-encoding: chunked\r\n\r\n")
        head = b"".join(lines)
        attempt = 0
        while True:
            conn = None if streamed else self._take_idle()
            fresh = conn is None
            try:
                if conn is None:
                    conn = await self._connect()
                return await self._exchange(conn, method, head, body)
            except _Stale as stale:
                conn.close()  # type: ignore[union-attr]
                safe = method in IDEMPOTENT or not fresh
                if streamed or not safe or attempt >= retries + (0 if fresh else 1):
                    raise BrokenResponse(str(stale)) from None
            except ConnectFailed:
                if streamed or attempt >= retries or method not in IDEMPOTENT:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
            attempt += 1

    async def _exchange(
        self, conn: _Conn, method: str, head: bytes, body: bytes | AsyncIterator[bytes] | None
    ) -> Response:
        writer = conn.writer
        try:
            writer.write(head)
            if isinstance(body, bytes):
                writer.write(body)
            elif body is not None:
                async for chunk in body:
                    if chunk:
                        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        await writer.drain()
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        except OSError as exc:
            raise _Stale(f"the connection failed while sending: {type(exc).__name__}") from None
        try:
            async with asyncio.timeout(self.read_timeout):
                raw = await conn.reader.readuntil(b"\r\n\r\n")
                while raw[9:10] == b"1" and raw[9:12] != b"101":  # 1xx interim answers
                    raw = await conn.reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            raise TimedOut("no answer in time") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Stale("the connection closed before an answer") from None
            raise BrokenResponse("the answer is not HTTP") from None
        except (asyncio.LimitOverrunError, OSError) as exc:
            if isinstance(exc, ConnectionResetError):
                raise _Stale("the connection was reset before an answer") from None
            raise BrokenResponse(f"the answer is not HTTP: {type(exc).__name__}") from None
        return _parse_head(raw, method, conn, self)


class _Stale(Exception):
    """Nothing came back on this connection: the request may be sent again elsewhere."""


_DROP = frozenset({b"connection", b"keep-alive", b"transfer-encoding", b"content-length"})


def _parse_head(raw: bytes, method: str, conn: _Conn, pool: Pool) -> Response:
    lines = raw[:-4].split(b"\r\n")
    status_line = lines[0]
    if not status_line.startswith(b"HTTP/1.") or len(status_line) < 12:
        raise BrokenResponse("the answer is not HTTP")
    try:
        status = int(status_line[9:12])
    except ValueError:
        raise BrokenResponse("the answer has no status code") from None
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    close = status_line.startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise BrokenResponse("the answer has a malformed header line")
        name = name.strip().lower()
        value = value.strip()
        if name in _DROP:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise BrokenResponse("the answer has a bad Content-Length") from None
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = close or b"close" in value.lower()
            continue
        headers.append((name, value))
    no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
    if no_body:
        # A HEAD answer keeps its Content-Length for the client (RFC 9110, 9.3.2); the
        # body, empty, is framed by nothing.
        if method == "HEAD" and length is not None:
            headers.append((b"content-length", str(length).encode()))
        length, chunked = None, False
    elif chunked:
        length = None
    resp = Response(
        status,
        headers,
        length,
        chunked,
        until_close=not no_body and length is None and not chunked,
        conn=conn,
        pool=pool,
        done=no_body,
    )
    if close:
        resp.until_close = True  # not reusable, whatever the framing
    return resp
