"""audit workflow: systems, finalisation chain, waivers, attestations, attachments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("system", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finalised_by", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("frozen", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_assessment_system"), ["system"], unique=False)

    op.create_table(
        "waiver",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("resource_pattern", sa.String(length=1024), nullable=False),
        sa.Column("target_pattern", sa.String(length=1024), nullable=False),
        sa.Column("system", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=255), nullable=False),
        sa.Column("compensating", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=255), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiver")),
    )
    with op.batch_alter_table("waiver", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waiver_rule"), ["rule"], unique=False)

    op.create_table(
        "attestation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("requirement", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=255), nullable=True),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("by", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestation")),
    )
    with op.batch_alter_table("attestation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attestation_period"), ["period"], unique=False)

    op.create_table(
        "attachment",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_attachment")),
    )


def downgrade() -> None:
    op.drop_table("attachment")
    with op.batch_alter_table("attestation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestation_period"))
    op.drop_table("attestation")
    with op.batch_alter_table("waiver", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waiver_rule"))
    op.drop_table("waiver")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_system"))
        batch_op.drop_column("previous_digest")
        batch_op.drop_column("digest")
        batch_op.drop_column("frozen")
        batch_op.drop_column("finalised_by")
        batch_op.drop_column("finalised_at")
        batch_op.drop_column("system")
