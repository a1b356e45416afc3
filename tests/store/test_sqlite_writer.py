"""SQLite writers leave checkpoints to a thread of their own, and the WAL stays bounded."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import Connection, text

from voxgate.store.db import Database

BLOB = os.urandom(16 * 1024)


def test_wal_is_checkpointed_off_the_writers_path(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    written = 0

    async def main() -> tuple[int, int, int]:
        nonlocal written
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await db.run_write(lambda c: c.exec_driver_sql("CREATE TABLE t (b BLOB)"))

            def insert(conn: Connection) -> None:
                for _ in range(8):
                    conn.execute(text("INSERT INTO t VALUES (:b)"), {"b": BLOB})

            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                await db.run_write(insert)
                written += 8 * len(BLOB)
                await asyncio.sleep(0.01)
            wal = (tmp_path / "wal.db-wal").stat().st_size
            async with db.connect() as conn:
                rows = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
            runs = db.checkpoints
            return wal, int(rows), runs
        finally:
            await db.dispose()

    wal, rows, runs = asyncio.run(main())
    assert rows * len(BLOB) == written
    assert runs >= 2
    # without checkpoints the WAL would hold everything written (writers never checkpoint)
    assert written > 10 * 1024 * 1024
    assert wal < written / 2
