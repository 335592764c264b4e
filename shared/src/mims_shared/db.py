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
from typing import Any, Self

import asyncpg
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


def jsonb(value: Any) -> str:
    """A value as a ``jsonb`` query argument (the driver takes JSON text; orjson writes it).

    Reading needs nothing: jsonb columns come back decoded (by orjson, see Database).
    """
    return orjson.dumps(value).decode()


def is_connectivity_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached, not that a statement failed."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if exc.orig is not None and is_connectivity_error(exc.orig):
            return True
        return isinstance(exc, sa_exc.InterfaceError | sa_exc.OperationalError)
    if isinstance(exc, sa_exc.TimeoutError):  # pool exhausted
        return True
    return isinstance(
        exc,
        OSError
        | asyncio.TimeoutError
        | ConnectionError
        | asyncpg.PostgresConnectionError  # class 08: connection exceptions
        | asyncpg.exceptions.OperatorInterventionError  # class 57: shutdown, cannot connect now
        | asyncpg.exceptions.TooManyConnectionsError
        | asyncpg.exceptions.ConnectionDoesNotExistError,
    ) or (isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc))


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

    def unit_of_work(self, *, transaction: bool = True) -> UnitOfWork:
        """A unit of work; ``transaction=False`` for reads and single-statement writes,
        which PostgreSQL makes atomic by themselves (saves BEGIN and COMMIT round trips)."""
        return UnitOfWork(self.engine, transaction=transaction)

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
    """One pooled connection, in one transaction unless asked otherwise.

    ``async with db.unit_of_work() as uow:`` opens it; repositories run their statements on
    ``uow.connection`` (the asyncpg connection: bound ``$n`` parameters, jsonb encoded and
    decoded by orjson); :meth:`commit` makes the work durable; leaving the block without
    committing rolls everything back, so a failure never leaves a partial write behind.

    The pool is SQLAlchemy's (cheap checkout, no reset round trip); statements go to the
    driver directly, with no SQL compilation on the hot path.
    """

    def __init__(self, engine: AsyncEngine, *, transaction: bool = True) -> None:
        self._engine = engine
        self._transactional = transaction
        self._sa: AsyncConnection | None = None
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._committed = False

    @property
    def connection(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("The unit of work is not open")
        return self._conn

    async def __aenter__(self) -> Self:
        try:
            self._sa = await self._engine.connect()
            raw = await self._sa.get_raw_connection()
            self._conn = raw.driver_connection
            if self._transactional:
                self._tx = self.connection.transaction()
                await self._tx.start()
        except Exception as exc:
            await self._release(broken=is_connectivity_error(exc))
            if is_connectivity_error(exc):
                raise ServiceUnavailable("The database cannot be reached") from exc
            raise
        return self

    async def commit(self) -> None:
        if self._tx is not None:
            try:
                await self._tx.commit()
            except Exception as exc:
                if is_connectivity_error(exc):
                    raise ServiceUnavailable("The database was lost while committing") from exc
                raise
        self._committed = True

    async def _release(self, *, broken: bool) -> None:
        sa, self._sa, self._conn = self._sa, None, None
        if sa is None:
            return
        if broken:
            # This connection is dead, and so probably are the others in the pool: drop
            # them all so that the next requests connect afresh once the database is back.
            with contextlib.suppress(Exception):
                await sa.invalidate()
            await self._engine.dispose(close=False)
        with contextlib.suppress(Exception):
            await sa.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        broken = exc is not None and (
            isinstance(exc, ServiceUnavailable) or is_connectivity_error(exc)
        )
        if self._tx is not None and not self._committed and not broken:
            with contextlib.suppress(Exception):
                await self._tx.rollback()
        await self._release(broken=broken)
        if exc is not None and not isinstance(exc, ServiceUnavailable) and broken:
            raise ServiceUnavailable("The database cannot be reached") from exc
