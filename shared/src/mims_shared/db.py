"""Async database access: one pool per service and a unit of work that owns the transaction.

Repositories receive the asyncpg connection of a unit of work and run bound SQL statements
on it; the service layer opens the unit of work and commits
before the response is built. Losing the database is turned into
:class:`~mims_shared.errors.ServiceUnavailable` here, once, for every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import asyncpg
import orjson
from sqlalchemy.engine import make_url

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
    """True when ``exc`` means the database cannot be reached (or no pooled connection was
    free in time), not that a statement failed."""
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
    """The connection pool of one service's own database (asyncpg).

    The pool is asyncpg's own: a unit of work costs a third less CPU than through
    SQLAlchemy's async engine, whose greenlet bridge and pool bookkeeping ran on every
    request while the statements went to the driver anyway. It opens connections lazily,
    keeps up to ``pool_size + max_overflow`` of them, and closes those idle for five
    minutes, so that a burst does not pay a connection per request.
    """

    #: Idle connections are closed after this long (they are reopened on demand).
    IDLE_S = 300.0

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
        self.connect_timeout_s = connect_timeout_s
        self._max = pool_size + max_overflow
        self._settings = {
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
        }
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        """The pool, created on first use (services build their Database before the event
        loop serves requests)."""
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    libpq_url(self.url),
                    min_size=0,
                    max_size=self._max,
                    max_inactive_connection_lifetime=self.IDLE_S,
                    timeout=self.connect_timeout_s,
                    server_settings=self._settings,
                    init=_init_connection,
                    reset=_reset_connection,
                )
        return self._pool

    def unit_of_work(self, *, transaction: bool = True) -> UnitOfWork:
        """A unit of work; ``transaction=False`` for reads and single-statement writes,
        which PostgreSQL makes atomic by themselves (saves BEGIN and COMMIT round trips)."""
        return UnitOfWork(self, transaction=transaction)

    async def ping(self) -> bool:
        """True when a statement can run on the database now."""
        try:
            async with self.unit_of_work(transaction=False) as uow:
                await uow.connection.fetchval("SELECT 1")
        except ServiceUnavailable:
            return False
        return True

    async def forget_connections(self) -> None:
        """The database was lost: every pooled connection is replaced on its next use."""
        if self._pool is not None:
            await self._pool.expire_connections()

    async def dispose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=5)
            if not pool._closed:
                pool.terminate()


#: Optimistic attempts of a read-modify-write before the one that locks (see optimistic()).
OPTIMISTIC_ATTEMPTS = 2

T = TypeVar("T")


class Lost:
    """What an attempt of :func:`optimistic` returns when another write came first."""


LOST = Lost()


async def optimistic(
    db: Database,
    attempt: Callable[[asyncpg.Connection, bool], Awaitable[T | Lost]],
    attempts: int = OPTIMISTIC_ATTEMPTS,
) -> T:
    """A read-modify-write without ``BEGIN``/``COMMIT`` in the common case.

    ``attempt(conn, locked)`` reads the row with its version (``xmin``), changes it, and
    stores it in one statement only if the version is unchanged, answering :data:`LOST`
    when it was not. It runs up to ``attempts`` times so, then once more in a transaction
    with ``locked`` true, where it reads the row ``FOR UPDATE`` and cannot lose: a busy row
    is never refused. Each run starts from the row as it then is."""
    for n in range(attempts + 1):
        locked = n == attempts
        async with db.unit_of_work(transaction=locked) as uow:
            result = await attempt(uow.connection, locked)
            if not isinstance(result, Lost):
                await uow.commit()
                return result
    raise RuntimeError("A write lost to another while holding the row's lock")


def _jsonb_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    """json and jsonb as text both ways: arguments are JSON text (:func:`jsonb`), results
    are decoded by orjson (faster; a huge integer is read as a float, as on the way in)."""
    for kind in ("jsonb", "json"):
        await conn.set_type_codec(
            kind, encoder=_jsonb_text, decoder=orjson.loads, schema="pg_catalog", format="text"
        )


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Back to the pool: a unit of work never leaves session state behind (it commits or
    rolls back, and sets nothing for the session), so asyncpg's default reset (four
    statements, one round trip per request) is replaced by a rollback only if a
    transaction was left open (a cancelled request)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class UnitOfWork:
    """One pooled connection, in one transaction unless asked otherwise.

    ``async with db.unit_of_work() as uow:`` opens it; repositories run their statements on
    ``uow.connection`` (the asyncpg connection: bound ``$n`` parameters, jsonb encoded and
    decoded by orjson); :meth:`commit` makes the work durable; leaving the block without
    committing rolls everything back, so a failure never leaves a partial write behind.
    """

    def __init__(self, db: Database, *, transaction: bool = True) -> None:
        self._db = db
        self._transactional = transaction
        self._pool: asyncpg.Pool | None = None
        self._proxy: Any = None  # what the pool lent, given back on release
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
            self._pool = await self._db.pool()
            self._proxy = await self._pool.acquire(timeout=self._db.connect_timeout_s)
            # The connection itself, not the pool's proxy: no attribute forwarding on every
            # call, and it is the object repositories may keep per-connection state for.
            self._conn = self._proxy._con
            if self._transactional:
                self._tx = self._conn.transaction()
                await self._tx.start()
        except Exception as exc:
            broken = is_connectivity_error(exc)
            await self._release(broken=broken)
            if broken:
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
        pool, proxy, conn = self._pool, self._proxy, self._conn
        self._proxy = self._conn = None
        if broken:
            # This connection is dead, and so probably are the others in the pool: they
            # are all replaced, so the next requests connect afresh once the database is
            # back.
            await self._db.forget_connections()
            if conn is not None:
                conn.terminate()
        if pool is not None and proxy is not None:
            with contextlib.suppress(Exception):
                await pool.release(proxy)

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
