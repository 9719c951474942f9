"""SLA clocks: sla_ticket (state + indexed next_due), sla_event (history)

Revision ID: 0005
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import pipelines.state

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_ticket",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("psa", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("company", sa.String(length=120), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("next_due", pipelines.state.UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("sla_ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_ticket_next_due"), ["next_due"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_ticket_number"), ["number"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_ticket_company"), ["company"], unique=False)

    op.create_table(
        "sla_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ticket_key", sa.String(length=120), nullable=False),
        sa.Column("at", pipelines.state.UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("recorded_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sla_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_event_ticket_key"), ["ticket_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_event_ticket_key"))
    op.drop_table("sla_event")
    with op.batch_alter_table("sla_ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_ticket_company"))
        batch_op.drop_index(batch_op.f("ix_sla_ticket_number"))
        batch_op.drop_index(batch_op.f("ix_sla_ticket_next_due"))
    op.drop_table("sla_ticket")
