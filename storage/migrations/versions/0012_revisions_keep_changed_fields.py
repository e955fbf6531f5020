"""revisions keep the other fields an edit changed

revisions.previous_fields: the earlier values of the fields an edit changed besides the body (a topic's
title, grades, subjects, visibility; a review comment's times and category), so that editing only a
title leaves a revision too. Revisions written before had only bodies: {}.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("revisions", sa.Column("previous_fields", sa.JSON(), nullable=True))
    op.execute("UPDATE revisions SET previous_fields = '{}'")
    # SQLite changes a column's nullability only by copying the table (its one index is a plain one,
    # which the copy recreates); PostgreSQL alters it in place.
    with op.batch_alter_table("revisions") as batch_op:
        batch_op.alter_column("previous_fields", existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("revisions") as batch_op:
        batch_op.drop_column("previous_fields")
