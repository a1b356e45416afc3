"""calls: duplicate keys are looked up by key alone

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_tenant_dedupe")
        batch_op.create_index("ix_calls_dedupe", ["dedupe_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_dedupe")
        batch_op.create_index("ix_calls_tenant_dedupe", ["tenant_id", "dedupe_key"], unique=False)
