"""extensions: a student's own due date and limits on one assignment

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A new table only: existing rows are untouched, so this is safe on a live database.
    op.create_table(
        "extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late_days", sa.Integer(), nullable=True),
        sa.Column("max_total", sa.Integer(), nullable=True),
        sa.Column("max_per_day", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "assignment", name="uq_extension"),
    )
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extensions_assignment"), ["assignment"], unique=False)
        batch_op.create_index(batch_op.f("ix_extensions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("extensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extensions_user_id"))
        batch_op.drop_index(batch_op.f("ix_extensions_assignment"))
    op.drop_table("extensions")
