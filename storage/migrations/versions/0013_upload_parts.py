"""resumable uploads record their parts

upload_parts: each part stored through the API, with its size and the store's checksum (ETag), so an
upload's status is answered from the database instead of reading every stored part again.
upload_sessions.direct_parts: presigned part URLs were handed out, so the store may hold parts the
database never saw (their status then comes from the store's own listing).

Revision ID: 0013_upload_parts
Revises: 0012
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.database

revision: str = "0013_upload_parts"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_parts",
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("part_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=128), nullable=False),
        sa.Column("stored_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["upload_sessions.id"],
            name=op.f("fk_upload_parts_upload_id_upload_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "part_number", name=op.f("pk_upload_parts")),
    )
    # Uploads started before kept no record of their parts: the store's listing answers for them.
    op.add_column(
        "upload_sessions",
        sa.Column("direct_parts", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    with op.batch_alter_table("upload_sessions") as batch_op:
        batch_op.alter_column("direct_parts", existing_type=sa.Boolean(), server_default=sa.false())


def downgrade() -> None:
    with op.batch_alter_table("upload_sessions") as batch_op:
        batch_op.drop_column("direct_parts")
    op.drop_table("upload_parts")
