"""The notification receiver: a real HTTP server the target posts notifications to.

It runs in a thread (the standard library's ``ThreadingHTTPServer``), records every POST
and answers 200. The target must reach it: bind it with ``--receiver-host``/``--receiver-port``
and, behind NAT or in a container, tell the target where it is with ``--receiver-url``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotificationReceiver:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, public_url: str | None = None):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000))
                with outer._lock:
                    outer.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        bound = self._server.server_address[1]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = (public_url or f"http://{shown}:{bound}").rstrip("/")
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self, path: str) -> list[Any]:
        out = []
        with self._lock:
            items = [b for p, _, b in self.requests if p == path]
        for b in items:
            try:
                out.append(json.loads(b))
            except ValueError:
                out.append({"unparseable": b[:200].decode("utf-8", "replace")})
        return out

    def headers(self, path: str) -> list[dict[str, str]]:
        with self._lock:
            return [h for p, h, _ in self.requests if p == path]

    async def wait(self, path: str, n: int, timeout: float) -> list[Any]:
        """The bodies posted to ``path`` once there are ``n`` (or all there are at timeout)."""
        deadline = time.monotonic() + timeout
        # The list is filled by the server's thread: polled, not awaited.
        while len(self.bodies(path)) < n and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return self.bodies(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
