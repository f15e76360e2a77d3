"""ingested evidence bundles: each bundle's manifest digest and the assessment it became

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingested_bundle",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("signer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
            name=op.f("fk_ingested_bundle_assessment_id_assessment"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_ingested_bundle")),
    )
    with op.batch_alter_table("ingested_bundle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingested_bundle_assessment_id"), ["assessment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingested_bundle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingested_bundle_assessment_id"))
    op.drop_table("ingested_bundle")
