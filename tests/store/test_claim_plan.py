"""The webhook claim finds each candidate's earlier events by call, whatever the statistics.

With statistics taken while the outbox held no pending rows, PostgreSQL believed a
status lookup cheapest and scanned every pending row for each candidate (0.8 s a claim at
3,000 pending). The plan is checked, not the time: the lookup must go by call.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import insert, text

from tests.support.harness import test_settings as settings_for
from tests.support.store import fresh_store
from voxgate.api.services import Services
from voxgate.store.schema import webhook_deliveries
from voxgate.store.webhooks import due_heads


def _rows(tenant: str, start: int, count: int, status: str) -> list[dict[str, object]]:
    now = time.time()
    return [
        {
            "id": f"d{i:031d}",
            "tenant_id": tenant,
            "call_id": None,
            "event_id": f"e{i:031d}",
            "seq": 1,
            "format": "native",
            "url": "http://127.0.0.1:9/hook",
            "content_type": "application/json",
            "body": "{}",
            "headers": {},
            "status": status,
            "attempts": 0,
            "next_attempt_at": now - 60 + i * 0.001,
            "created_at": now,
            "event_type": "call.completed",
            "host": "127.0.0.1:9",
            "url_from_request": False,
        }
        for i in range(start, start + count)
    ]


def test_a_claim_looks_up_earlier_events_by_call_with_stale_statistics(tmp_path: Path) -> None:
    with fresh_store("postgres", tmp_path) as store:

        async def main() -> str:
            services = Services.build(settings_for(store, tmp_path), schema=store.schema)
            try:
                tenant = (await services.tenants.create("acme")).tenant_id
                async with services.db.begin() as conn:
                    await conn.execute(
                        insert(webhook_deliveries), _rows(tenant, 0, 20, "delivered")
                    )
                async with services.db.begin() as conn:
                    await conn.execute(text("ANALYZE webhook_deliveries"))
                async with services.db.begin() as conn:  # a burst after the statistics
                    await conn.execute(
                        insert(webhook_deliveries), _rows(tenant, 20, 3000, "pending")
                    )
                query = due_heads(now=time.time(), limit=1024)
                compiled = query.compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
                async with services.db.connect() as conn:
                    plan = await conn.execute(text(f"EXPLAIN {compiled}"))
                    return "\n".join(row[0] for row in plan)
            finally:
                await services.close()

        plan = asyncio.run(main())
    assert "Anti Join" in plan, plan
    inner = plan.split("Anti Join", 1)[1]
    assert "ix_webhook_deliveries_call" in inner, plan
