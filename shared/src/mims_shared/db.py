"""Async database access: one engine per service and a unit of work that owns the transaction.

Repositories receive the :class:`sqlalchemy.ext.asyncio.AsyncConnection` of a unit of work
and run bound SQL statements on it; the service layer opens the unit of work and commits
before the response is built. Losing the database is turned into
:class:`~mims_shared.errors.ServiceUnavailable` here, once, for every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import TracebackType
from typing import Self

import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mims_shared.errors import ServiceUnavailable

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def database_url_for(server_url: str, database: str) -> str:
    """The SQLAlchemy asyncpg URL of ``database`` on the server named by ``server_url``.

    ``server_url`` may be any PostgreSQL URL (``postgresql://``, ``postgres://``,
    ``postgresql+asyncpg://``), including a unix-socket one (``?host=/path``).
    """
    if not _DB_NAME.match(database):
        raise ValueError(f"Database name {database!r} is not a plain lower-case identifier")
    raw = server_url.replace("postgres://", "postgresql://", 1)
    url = make_url(raw).set(drivername="postgresql+asyncpg", database=database)
    return url.render_as_string(hide_password=False)


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL in the plain ``postgresql://`` form asyncpg and psql understand."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def maintenance_url(sqlalchemy_url: str) -> str:
    """The plain URL of the ``postgres`` maintenance database on the same server."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def database_name(sqlalchemy_url: str) -> str:
    name = make_url(sqlalchemy_url).database
    if not name or not _DB_NAME.match(name):
        raise ValueError(f"Database name {name!r} is not a plain lower-case identifier")
    return name


def is_connectivity_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached, not that a statement failed."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return isinstance(exc, sa_exc.InterfaceError | sa_exc.OperationalError) and not isinstance(
            exc.orig, sa_exc.DataError
        )
    if isinstance(exc, sa_exc.TimeoutError):  # pool exhausted
        return True
    return isinstance(exc, OSError | asyncio.TimeoutError | ConnectionError)


class Database:
    """The engine (connection pool) of one service's own database."""

    def __init__(
        self,
        url: str,
        *,
        application_name: str,
        pool_size: int = 10,
        max_overflow: int = 10,
        connect_timeout_s: float = 5.0,
        statement_timeout_ms: int = 30_000,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=connect_timeout_s,
            # No pre-ping on the hot path: a connection found dead raises a disconnect
            # error, SQLAlchemy then invalidates the whole pool, and the next request
            # gets fresh connections.
            pool_pre_ping=False,
            # jsonb comes back through orjson: faster, and a number PostgreSQL prints as a
            # huge integer (numeric) is read as a float, as orjson read it on the way in.
            json_deserializer=orjson.loads,
            json_serializer=lambda v: orjson.dumps(v).decode(),
            connect_args={
                "timeout": connect_timeout_s,
                "server_settings": {
                    "application_name": application_name,
                    "statement_timeout": str(statement_timeout_ms),
                },
            },
        )

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def ping(self) -> bool:
        """True when a statement can run on the database now."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            if is_connectivity_error(exc):
                return False
            raise
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One transaction on one pooled connection.

    ``async with db.unit_of_work() as uow:`` opens it; :meth:`commit` makes the work durable;
    leaving the block without committing rolls everything back, so a failure never leaves a
    partial write behind.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._committed = False

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("The unit of work is not open")
        return self._conn

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            await self._conn.begin()
        except Exception as exc:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            if is_connectivity_error(exc):
                raise ServiceUnavailable("The database cannot be reached") from exc
            raise
        return self

    async def commit(self) -> None:
        try:
            await self.connection.commit()
        except Exception as exc:
            if is_connectivity_error(exc):
                raise ServiceUnavailable("The database was lost while committing") from exc
            raise
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # A connection lost mid-way may fail to roll back or close; closing discards it.
        with contextlib.suppress(Exception):
            if not self._committed and conn.in_transaction():
                await conn.rollback()
        with contextlib.suppress(Exception):
            await conn.close()
        if (
            exc is not None
            and not isinstance(exc, ServiceUnavailable)
            and is_connectivity_error(exc)
        ):
            raise ServiceUnavailable("The database cannot be reached") from exc
