"""The bare baseline: FastAPI + asyncpg, one JSONB row per request (or a JSON array of
objects upserted as rows by one statement), no framework of ours.

This is what the issues' ratios are measured against, started in the same run as our
services, on the same PostgreSQL, under the same uvicorn settings.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

DDL = "CREATE TABLE IF NOT EXISTS bench_rows (id text PRIMARY KEY, doc jsonb NOT NULL)"


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(os.environ["BENCH_BASELINE_DSN"], min_size=10, max_size=10)
        async with pool.acquire() as conn:
            await conn.execute(DDL)
        app.state.pool = pool
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.post("/rows")
    async def insert(request: Request) -> Response:
        body = await request.body()
        doc_id = request.headers["x-id"]
        async with request.app.state.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO bench_rows (id, doc) VALUES ($1, $2::jsonb)", doc_id, body.decode()
            )
        return Response(status_code=201)

    @app.post("/rows/batch")
    async def upsert_batch(request: Request) -> Response:
        """The objects of a JSON array, each upserted as a row keyed by its ``id``."""
        docs = orjson.loads(await request.body())
        ids = [d["id"] for d in docs]
        texts = [orjson.dumps(d).decode() for d in docs]
        async with request.app.state.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO bench_rows (id, doc) SELECT r.id, r.doc::jsonb "
                "FROM unnest($1::text[], $2::text[]) AS r(id, doc) "
                "ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc",
                ids,
                texts,
            )
        return Response(status_code=204)

    @app.get("/rows/{doc_id}")
    async def select(doc_id: str, request: Request) -> Response:
        async with request.app.state.pool.acquire() as conn:
            doc = await conn.fetchval("SELECT doc::text FROM bench_rows WHERE id = $1", doc_id)
        if doc is None:
            return Response(status_code=404)
        return Response(doc, media_type="application/json")

    return app
