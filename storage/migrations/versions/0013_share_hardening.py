"""share hardening: revoked tokens and counted views

revoked_tokens: a signed-out token's jti until it would have expired (sign-out ends the token on the
server, not only in the browser). resource_views: when each viewer last counted as a view of a
resource, so repeated requests of one viewer count once per window on every replica.

Revision ID: 0013_share_hardening
Revises: 0012
Create Date: 2026-12-05 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.database

revision: str = "0013_share_hardening"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_tokens_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "resource_views",
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("viewer_key", sa.String(length=64), nullable=False),
        sa.Column("viewed_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_resource_views_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("resource_id", "viewer_key", name=op.f("pk_resource_views")),
    )
    with op.batch_alter_table("resource_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_views_viewed_at"), ["viewed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resource_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_views_viewed_at"))
    op.drop_table("resource_views")
    with op.batch_alter_table("revoked_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_tokens_expires_at"))
    op.drop_table("revoked_tokens")
