"""A SQLite write transaction run whole on a thread of its own: one hand-off, not dozens.

Through the async driver every statement is several hand-offs between the event loop and
the driver's thread (cursor, execute, fetch, close), each waiting for a busy loop to come
round. A transaction that is a plain function of a synchronous connection can instead run
start to finish on one writer thread and hand back its result once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

T = TypeVar("T")


class SqliteWriter:
    """Runs ``fn(connection)`` inside ``BEGIN IMMEDIATE`` … ``COMMIT`` on its own thread.

    While another process holds the write lock, ``BEGIN IMMEDIATE`` is retried every
    1–2 ms for up to ``busy_timeout`` seconds (the connection has no busy handler).
    """

    def __init__(
        self,
        url: str,
        *,
        on_connect: Callable[[DBAPIConnection, ConnectionPoolEntry], None],
        busy_timeout: float,
        echo: bool = False,
    ) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self.engine: Engine = create_engine(sync_url, echo=echo, pool_size=1, max_overflow=0)
        event.listen(self.engine, "connect", on_connect)
        event.listen(self.engine, "begin", begin_immediate)
        self.busy_timeout = busy_timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, fn)

    def _transaction(self, fn: Callable[[Connection], T]) -> T:
        deadline = time.monotonic() + self.busy_timeout
        with self.engine.connect() as conn:
            while True:
                try:
                    tx = conn.begin()
                    break
                except OperationalError as exc:
                    if not locked(exc) or time.monotonic() > deadline:
                        raise
                    time.sleep(lock_retry_delay())
            with tx:
                return fn(conn)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self.engine.dispose)
        self._thread.shutdown(wait=True)


def begin_immediate(conn: Connection) -> None:
    """Write transactions take the write lock up front.

    A deferred transaction that reads and then writes can fail at once with SQLITE_BUSY
    when another process wrote in between; BEGIN IMMEDIATE takes the lock first.
    """
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def lock_retry_delay() -> float:
    """How long to wait before trying the write lock again: 1-2 ms, spread."""
    return 0.001 + random.random() * 0.001


def locked(exc: OperationalError) -> bool:
    text = str(exc.orig)
    return "locked" in text or "busy" in text
