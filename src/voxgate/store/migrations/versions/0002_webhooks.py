"""webhooks: delivery host, event type and URL origin; connect callback URL; Ed25519 key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connect_callback_url", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("webhook_signing_key", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("event_type", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("host", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("url_from_request", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The defaults only filled rows that existed before; the code always sets these.
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.alter_column("event_type", server_default=None)
        batch_op.alter_column("host", server_default=None)
        batch_op.alter_column("url_from_request", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("url_from_request")
        batch_op.drop_column("host")
        batch_op.drop_column("event_type")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("webhook_signing_key")
        batch_op.drop_column("connect_callback_url")
