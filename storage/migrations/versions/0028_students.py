"""text read from handed-in work, for teachers' search

The worker reads the text of handed-in documents and photos (issue 17); it is kept per file, for
the teachers of the class to search, and goes with the file.

Revision ID: 0028_students
Revises: 0021
Create Date: 2026-12-05 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.database

revision: str = "0028_students"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_file_texts",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["submission_files.id"],
            name=op.f("fk_submission_file_texts_file_id_submission_files"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_file_texts_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_submission_file_texts")),
    )
    with op.batch_alter_table("submission_file_texts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_file_texts_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_file_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_file_texts_submission_id"))
    op.drop_table("submission_file_texts")
