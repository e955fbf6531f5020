"""one head again after the third round's parallel work

Curation (the review workflow; showcase marks and collections) and the students' remaining work were
built side by side,
each with a migration on top of 0021; neither touches the other's tables, so their order does not
matter. This revision only joins them.

Revision ID: 0029
Revises: 0022_review, 0023_showcase, 0028_students
Create Date: 2026-12-05 12:05:00
"""

from collections.abc import Sequence

revision: str = "0029"
down_revision: str | Sequence[str] | None = ("0022_review", "0023_showcase", "0028_students")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
