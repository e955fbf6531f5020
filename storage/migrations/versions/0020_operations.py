"""operations: single sign-on

users.external_id: who the OpenID provider says a user is (its `sub`, or the claim configured),
unique; empty for accounts that never signed in through it. oidc_sign_ins: sign-ins under way,
each a state the provider must send back once (a replayed or forged callback finds nothing),
with the nonce and PKCE verifier that go with it.

Revision ID: 0020_operations
Revises: 0012
Create Date: 2026-12-05 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_operations"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Not a batch copy of users on SQLite: that would lose the functional index on lower(username).
    op.add_column("users", sa.Column("external_id", sa.String(255), nullable=True))
    op.create_index("uq_users_external_id", "users", ["external_id"], unique=True)
    op.create_table(
        "oidc_sign_ins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_url", sa.String(2000), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oidc_sign_ins_expires_at", "oidc_sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oidc_sign_ins_expires_at", table_name="oidc_sign_ins")
    op.drop_table("oidc_sign_ins")
    op.drop_index("uq_users_external_id", table_name="users")
    op.drop_column("users", "external_id")
