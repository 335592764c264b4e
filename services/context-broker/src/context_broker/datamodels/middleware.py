"""The ``NGSILD-Warning`` response header (MIM2 ``warn`` mode): the warnings a request
collected (datamodels.service.warn), one header line each, RFC 9111 warn-code 299."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from context_broker.datamodels.service import WARNINGS


def _header(text: str) -> bytes:
    safe = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else " " for c in text)
    return f'299 - "{safe[:1000]}"'.encode("ascii")


class WarningsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: list[str] = []
        token = WARNINGS.set(found)

        async def send_with_warnings(message: Message) -> None:
            if message["type"] == "http.response.start" and found:
                headers = list(message.get("headers", []))
                headers += [(b"ngsild-warning", _header(w)) for w in found]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_warnings)
        finally:
            WARNINGS.reset(token)
