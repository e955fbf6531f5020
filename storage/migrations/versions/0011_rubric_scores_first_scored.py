"""rubric scores keep when they were first given

rubric_scores.created_at: when a reviewer first scored a criterion on a round; scoring again keeps it
(updated_at moves), so research statistics count a round in the period it was first scored. Existing
scores have only their latest time, which is the best guess of when they were given.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.database

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "rubric_scores",
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE rubric_scores SET created_at = updated_at")
    # SQLite changes a column's nullability only by copying the table (its indexes are plain ones,
    # which the copy recreates); PostgreSQL alters it in place.
    with op.batch_alter_table("rubric_scores") as batch_op:
        batch_op.alter_column(
            "created_at", existing_type=storage.database.UTCDateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rubric_scores") as batch_op:
        batch_op.drop_column("created_at")
