"""indexed view counts

resources.indexed_view_count remembers the view count the search index last got, so a periodic
duty reindexes the resources viewed since (popularity sorting in search), not one per view. Existing
rows start at 0: the first run brings every viewed resource's count to the index once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both engines (SQLite 3.35+ drops columns in place): a batch copy of
# resources would drop the old table, and with foreign keys on that cascades to every round and file.


def upgrade() -> None:
    op.add_column(
        "resources", sa.Column("indexed_view_count", sa.Integer(), server_default="0", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("resources", "indexed_view_count")
