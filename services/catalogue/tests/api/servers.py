"""Real HTTP servers for harvest tests: an ASGI app under uvicorn on a free port, in the
test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from conftest import free_port


@contextlib.asynccontextmanager
async def http_server(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """``app`` served over HTTP on 127.0.0.1 (on ``port`` or a free one); yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
