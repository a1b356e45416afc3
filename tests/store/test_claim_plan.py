"""The webhook claim finds each candidate's earlier events by call, whatever the statistics.

With statistics taken while the outbox held no pending rows, PostgreSQL believed a
status lookup cheapest and scanned every pending row for each candidate (0.8 s a claim at
3,000 pending). The plan is checked, not the time: the lookup must go by call.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.plans import plan_after_a_burst
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
    plan = plan_after_a_burst(
        tmp_path,
        webhook_deliveries,
        lambda tenant, start, count: _rows(tenant, start, count, "delivered"),
        lambda tenant, start, count: _rows(tenant, start, count, "pending"),
        due_heads(now=time.time(), limit=1024),
    )
    assert "Anti Join" in plan, plan
    inner = plan.split("Anti Join", 1)[1]
    assert "ix_webhook_deliveries_call" in inner, plan
