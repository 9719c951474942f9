"""KB linking and enrichment: kb_article (local index), classifier_model (versions), ticket_enrichment

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import pipelines.state

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_article",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("vendor", sa.String(length=40), nullable=False),
        sa.Column("article_id", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("folder", sa.String(length=500), nullable=True),
        sa.Column("client", sa.String(length=120), nullable=True),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.Column("updated_at", pipelines.state.UTCDateTime(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("synced_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_article_vendor"), ["vendor"], unique=False)

    op.create_table(
        "classifier_model",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )

    op.create_table(
        "ticket_enrichment",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("psa", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("text_hash", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=120), nullable=True),
        sa.Column("subtype", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("confident", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("kb", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("written", sa.JSON(), nullable=False),
        sa.Column("observed", sa.JSON(), nullable=False),
        sa.Column("human", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("created_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.Column("updated_at", pipelines.state.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("ticket_enrichment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_enrichment_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_enrichment_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_enrichment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_enrichment_updated_at"))
        batch_op.drop_index(batch_op.f("ix_ticket_enrichment_ticket_id"))
    op.drop_table("ticket_enrichment")
    op.drop_table("classifier_model")
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_article_vendor"))
    op.drop_table("kb_article")
