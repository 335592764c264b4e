from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from conftest import serve
from context_broker.app import create_app
from mims_shared.db import libpq_url


@pytest.fixture(scope="module")
async def client(settings_for: Callable[..., object]) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(create_app(settings_for("context-broker"))) as c:  # type: ignore[arg-type]
        yield c


@pytest.fixture
async def pg(settings_for: Callable[..., Any]) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the broker's test database."""
    url = settings_for("context-broker").require_database_url()
    conn = await asyncpg.connect(libpq_url(url))
    try:
        yield conn
    finally:
        await conn.close()
