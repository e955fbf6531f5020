"""one head again after this round's parallel work

The round's capabilities were built side by side, each with a migration on top of 0012; none touches
another's tables or columns, so their order does not matter. This revision only joins them.

Revision ID: 0021
Revises: 0013_share_hardening, 0013_upload_parts, 0014_video, 0016_documents, 0017_classes_assignments,
    0020_operations
Create Date: 2026-12-05 08:30:00
"""

from collections.abc import Sequence

revision: str = "0021"
down_revision: str | Sequence[str] | None = (
    "0013_share_hardening",
    "0013_upload_parts",
    "0014_video",
    "0016_documents",
    "0017_classes_assignments",
    "0020_operations",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
