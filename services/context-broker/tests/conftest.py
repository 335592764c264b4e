from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from conftest import serve
from context_broker.app import create_app


@pytest.fixture(scope="module")
async def client(settings_for: Callable[..., object]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(settings_for("context-broker"))) as c:  # type: ignore[arg-type]
        yield c
