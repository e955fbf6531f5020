"""usernames unique ignoring case

Sign-in and the duplicate checks compare lower(username), while the database only refused exact
duplicates: two accounts differing in case could be created at once, and then neither could sign in
reliably. A unique index on lower(username) makes the database agree with the lookups (SQLite and
PostgreSQL both index expressions).

Such duplicates cannot be merged automatically (they are different people's accounts, or one
person's twice): if any exist, the upgrade stops and names them, to be renamed first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_users_username_lower"


def upgrade() -> None:
    clashes = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(username) AS name, count(*) AS accounts FROM users "
                "GROUP BY lower(username) HAVING count(*) > 1 ORDER BY 1"
            )
        )
        .all()
    )
    if clashes:
        names = ", ".join(f"{name} ({accounts} accounts)" for name, accounts in clashes)
        raise RuntimeError(
            "Some usernames differ only in case, which sign-in cannot tell apart; rename all but one "
            f"account of each before upgrading: {names}"
        )
    op.create_index(INDEX, "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="users")
