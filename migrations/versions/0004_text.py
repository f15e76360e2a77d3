"""text read from targets is stored as Text: URIs, resources, the scanning host, waiver patterns

PostgreSQL enforces a VARCHAR's length (SQLite never did): a resource named by a hostile image
(a 2,000-character path), a long target URI or a long waiver pattern made the whole target's
transaction fail there. Text has no length on either backend.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, column, old length); each becomes Text (and back on downgrade)
COLUMNS = [
    ("assessment", "scanner_host", 255),
    ("target", "uri", 1024),
    ("target_evidence", "resource", 1024),
    ("result", "resource", 1024),
    ("waiver", "resource_pattern", 1024),
    ("waiver", "target_pattern", 1024),
    ("waiver", "source", 1024),
]


def _alter(to_text: bool) -> None:
    for table in dict.fromkeys(t for t, _, _ in COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, length in COLUMNS:
                if name != table:
                    continue
                old, new = sa.String(length=length), sa.Text()
                batch_op.alter_column(
                    column,
                    existing_type=old if to_text else new,
                    type_=new if to_text else old,
                )


def upgrade() -> None:
    _alter(to_text=True)


def downgrade() -> None:
    _alter(to_text=False)
