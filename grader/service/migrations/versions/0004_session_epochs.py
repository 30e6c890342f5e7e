"""tokens.session_epoch: signing out of the pages ends every session of that token

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A column with a server default: existing tokens start at epoch 0, and page sessions
    # issued before this release (in the older cookie format) are refused once, which
    # asks their browsers to sign in again.
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("session_epoch")
