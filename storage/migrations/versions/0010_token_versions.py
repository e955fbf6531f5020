"""token versions

users.token_version is written into every token; a password change or a deactivation moves it on,
ending the tokens issued before. Existing users start at 0, which is also what tokens issued before
this upgrade are read as: nobody is signed out by the upgrade itself.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both engines (SQLite adds and, since 3.35, drops columns in place): a batch
# copy of the table would lose the lower(username) index, which SQLite cannot reflect.


def upgrade() -> None:
    op.add_column("users", sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("users", "token_version")
