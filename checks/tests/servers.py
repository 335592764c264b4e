"""Servers for the honesty tests of mims-check: real HTTP servers on free ports.

- the real services (broker, marketplace) in uvicorn, behind a :class:`Saboteur` that can
  break exactly one rule per test (rewrite a request or a response), and is harmless
  (passes everything through) otherwise;
- small fakes (Starlette) for what the stack does not serve yet on this branch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import mims_check.cli  # noqa: F401  (registers every check)
from conftest import free_port


@dataclass
class Req:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Resp:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


RequestRule = Callable[[Req], Req | None]
ResponseRule = Callable[[Req, Resp], Resp | None]


class Saboteur:
    """ASGI middleware: with no rule set, it is transparent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.on_request: RequestRule | None = None
        self.on_response: ResponseRule | None = None

    def reset(self) -> None:
        self.on_request = self.on_response = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.on_request is None and self.on_response is None):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        req = Req(
            scope["method"],
            scope["path"],
            scope["query_string"].decode(),
            {k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body,
        )
        if self.on_request is not None:
            req = self.on_request(req) or req
        req.headers["content-length"] = str(len(req.body))
        scope = dict(
            scope,
            method=req.method,
            path=req.path,
            raw_path=req.path.encode(),
            query_string=req.query.encode(),
            headers=[(k.encode(), v.encode()) for k, v in req.headers.items()],
        )
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": req.body, "more_body": False}
            return await receive()

        if self.on_response is None:
            await self.app(scope, replay, send)
            return
        resp = Resp(0)

        async def keep(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                resp.status = msg["status"]
                resp.headers = {k.decode().lower(): v.decode() for k, v in msg["headers"]}
            elif msg["type"] == "http.response.body":
                resp.body += msg.get("body", b"")

        await self.app(scope, replay, keep)
        out = self.on_response(req, resp) or resp
        out.headers["content-length"] = str(len(out.body))
        await send(
            {
                "type": "http.response.start",
                "status": out.status,
                "headers": [(k.encode(), v.encode()) for k, v in out.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": out.body})


class LiveServer:
    """``app`` served by uvicorn in a thread (its own event loop) on a free port."""

    def __init__(self, app: ASGIApp, **ssl: str) -> None:
        self.port = free_port()
        self.url = f"{'https' if ssl else 'http'}://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **ssl
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
