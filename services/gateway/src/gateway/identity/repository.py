"""SQL of the built-in issuer's signing keys."""

from __future__ import annotations

import asyncpg

_ACTIVE = (
    "SELECT kid, private_pem, created_at FROM signing_key WHERE retired_at IS NULL "
    "ORDER BY created_at, kid"
)
_INSERT = "INSERT INTO signing_key (kid, private_pem) VALUES ($1, $2)"
_RETIRE = (
    "UPDATE signing_key SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL RETURNING kid"
)


async def active(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(_ACTIVE)
    return rows


async def insert(conn: asyncpg.Connection, kid: str, pem: bytes) -> None:
    await conn.execute(_INSERT, kid, pem)


async def retire(conn: asyncpg.Connection, kid: str) -> bool:
    return await conn.fetchval(_RETIRE, kid) is not None
