"""page texts say where they come from

file_pages.source: "text" (read from the file) or "ocr" (recognised in the page's pictures);
file_pages.confidence: OCR's mean confidence, null for text. Pages extracted before were all text.
screen_texts: text on screen in recorded lessons, with the second it appears and a thumbnail.

Revision ID: 0016_documents
Revises: 0012
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_documents"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "file_pages", sa.Column("source", sa.String(length=8), nullable=False, server_default="text")
    )
    op.add_column("file_pages", sa.Column("confidence", sa.Double(), nullable=True))
    op.create_table(
        "screen_texts",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Double(), nullable=False),
        sa.Column("end_s", sa.Double(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["resource_files.id"],
            name=op.f("fk_screen_texts_file_id_resource_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("file_id", "number", name=op.f("pk_screen_texts")),
    )


def downgrade() -> None:
    op.drop_table("screen_texts")
    with op.batch_alter_table("file_pages") as batch_op:
        batch_op.drop_column("confidence")
        batch_op.drop_column("source")
