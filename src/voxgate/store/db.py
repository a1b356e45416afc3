"""The database handle, one per process, owned by the app's lifespan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from voxgate.store.sqlite_writer import SqliteWriter, begin_immediate, lock_retry_delay, locked

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10000
STATEMENT_LIFETIME = 2  # seconds a statement asyncpg prepared stays in its cache


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    def on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # voxgate issues BEGIN itself (see _sqlite_begin); the driver must not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.close()

    return on_connect


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


class Database:
    """Wraps the async engine; ``begin()`` yields a connection inside one transaction."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        schema: str | None = None,
        statement_lifetime: float = STATEMENT_LIFETIME,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if not self.is_sqlite:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False)
            # Statements sent through asyncpg directly (``store.pg_accept``) are prepared
            # once per connection, and after five runs PostgreSQL may keep a generic plan
            # made for the table as it was then: on a new table the duplicate lookup kept
            # a sequential scan, slower with every call accepted, until autovacuum's
            # next ANALYZE. Prepared again every few seconds, the plans follow the table.
            connect_args: dict[str, Any] = {"max_cached_statement_lifetime": statement_lifetime}
            if schema:
                connect_args["server_settings"] = {"search_path": schema}
            kwargs["connect_args"] = connect_args
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._write_lock = asyncio.Lock()
        self._writer: AsyncEngine | None = None
        self._sync_writer: SqliteWriter | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas(BUSY_TIMEOUT_MS))
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
            # Write transactions have connections of their own that never wait in SQLite's
            # busy handler, which sleeps ever longer (up to 100 ms a round) while another
            # process holds the write lock: BEGIN IMMEDIATE fails at once and begin()
            # retries it every 1-2 ms. Once it holds the lock, nothing else can be busy.
            writer_pragmas = _sqlite_pragmas(0)
            self._writer = create_async_engine(url, echo=echo, pool_size=1, max_overflow=1)
            event.listen(self._writer.sync_engine, "connect", writer_pragmas)
            event.listen(self._writer.sync_engine, "begin", begin_immediate)
            self._sync_writer = SqliteWriter(
                url, on_connect=writer_pragmas, busy_timeout=BUSY_TIMEOUT_MS / 1000, echo=echo
            )

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed on success, rolled back on error.

        On SQLite the transactions of one process queue on an asyncio lock: SQLite admits one
        writer at a time, and its busy handler sleeps (up to 100 ms a round) where the lock
        hands over at once. Against other processes, taking the lock is retried every 1-2 ms
        for up to ``BUSY_TIMEOUT_MS``.
        """
        if self._writer is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self._writer.connect() as conn:
            deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
            while True:
                tx = conn.begin()
                try:
                    await tx.start()
                    break
                except OperationalError as exc:
                    if not locked(exc) or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(lock_retry_delay())
            try:
                yield conn
            except BaseException:
                await tx.rollback()
                raise
            await tx.commit()

    async def run_write(self, fn: Callable[[Connection], T]) -> T:
        """One write transaction that is a plain function of a synchronous connection.

        On SQLite it runs whole on the writer thread (after this process's other writers);
        on PostgreSQL on a pooled connection, each statement a round trip as usual.
        """
        if self._sync_writer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn)
        async with self._write_lock:
            return await self._sync_writer.run(fn)

    async def run_driver_write(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        """PostgreSQL only: one transaction run by ``fn`` on a pooled connection's own
        asyncpg connection, for hot paths whose statements are fixed text (see
        ``store.pg_accept``). The pool is SQLAlchemy's, with its settings."""
        if self.is_sqlite:
            raise RuntimeError("run_driver_write is for PostgreSQL")
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            async with driver.transaction():
                return await fn(driver)

    @property
    def write_engines(self) -> list[Engine]:
        """The engines write transactions commit on, for commit listeners."""
        engines = [self.engine.sync_engine]
        if self._writer is not None:
            engines.append(self._writer.sync_engine)
        if self._sync_writer is not None:
            engines.append(self._sync_writer.engine)
        return engines

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._writer is not None:
            await self._writer.dispose()
        if self._sync_writer is not None:
            await self._sync_writer.close()

    def __repr__(self) -> str:
        return f"<Database {self.engine.url.render_as_string(hide_password=True)}>"
