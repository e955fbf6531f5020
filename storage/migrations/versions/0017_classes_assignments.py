"""classes, assignments and submissions; favorites and history; textbook catalog

The students' half (issue 17): classes per school year with their students and teachers,
assignments given to classes and the work handed in, my space (favorites, view history), the
editions each school uses and the district's catalog of units and lessons.

Revision ID: 0017_classes_assignments
Revises: 0012
Create Date: 2026-12-05 07:22:39.381270
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.database

revision: str = "0017_classes_assignments"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_lessons",
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("volume", sa.String(length=8), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("lesson", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_lessons")),
    )
    with op.batch_alter_table("catalog_lessons", schema=None) as batch_op:
        batch_op.create_index(
            "ix_catalog_lessons_book", ["subject", "edition", "grade", "volume"], unique=False
        )

    op.create_table(
        "school_editions",
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("edition", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_editions_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", "subject", name=op.f("pk_school_editions")),
    )
    op.create_table(
        "assignments",
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("teacher_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("due_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submission_required", sa.Boolean(), nullable=False),
        sa.Column("accept_late", sa.Boolean(), nullable=False),
        sa.Column(
            "grading",
            sa.Enum("level", "score", "none", name="grading", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("max_score", sa.Integer(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_assignments_school_id_schools"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_assignments_teacher_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_school_id"), ["school_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_teacher_id"), ["teacher_id"], unique=False)

    op.create_table(
        "classes",
        sa.Column("school_id", sa.Uuid(), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("head_teacher_id", sa.Uuid(), nullable=True),
        sa.Column("previous_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["head_teacher_id"],
            ["users.id"],
            name=op.f("fk_classes_head_teacher_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["classes.id"], name=op.f("fk_classes_previous_id_classes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_classes_school_id_schools"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
        sa.UniqueConstraint(
            "school_id",
            "school_year",
            "grade",
            "number",
            name=op.f("uq_classes_school_id_school_year_grade_number"),
        ),
    )
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_classes_school_id"), ["school_id"], unique=False)

    op.create_table(
        "assignment_classes",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_classes_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["classes.id"],
            name=op.f("fk_assignment_classes_class_id_classes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assignment_id", "class_id", name=op.f("pk_assignment_classes")),
    )
    with op.batch_alter_table("assignment_classes", schema=None) as batch_op:
        batch_op.create_index("ix_assignment_classes_class", ["class_id"], unique=False)

    op.create_table(
        "assignment_resources",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_resources_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_assignment_resources_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assignment_id", "resource_id", name=op.f("pk_assignment_resources")),
    )
    op.create_table(
        "class_students",
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_class_students_class_id_classes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["users.id"], name=op.f("fk_class_students_student_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("class_id", "student_id", name=op.f("pk_class_students")),
        sa.UniqueConstraint(
            "student_id", "school_year", name=op.f("uq_class_students_student_id_school_year")
        ),
    )
    op.create_table(
        "class_teachers",
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("teacher_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_class_teachers_class_id_classes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["teacher_id"], ["users.id"], name=op.f("fk_class_teachers_teacher_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("class_id", "teacher_id", "subject", name=op.f("pk_class_teachers")),
    )
    with op.batch_alter_table("class_teachers", schema=None) as batch_op:
        batch_op.create_index("ix_class_teachers_teacher", ["teacher_id"], unique=False)

    op.create_table(
        "favorites",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_favorites_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_favorites_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "resource_id", name=op.f("pk_favorites")),
    )
    op.create_table(
        "submissions",
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("student_id", sa.Uuid(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("submitted", "returned", "graded", name="submissionstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("submitted_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("is_late", sa.Boolean(), nullable=False),
        sa.Column("grade_level", sa.String(length=1), nullable=True),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("reviewed_at", storage.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_submissions_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_submissions_class_id_classes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["users.id"],
            name=op.f("fk_submissions_reviewed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["users.id"], name=op.f("fk_submissions_student_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "assignment_id", "student_id", name=op.f("uq_submissions_assignment_id_student_id")
        ),
    )
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_submissions_class_id"), ["class_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_submissions_student_id"), ["student_id"], unique=False)

    op.create_table(
        "view_history",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("viewed_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_view_history_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_view_history_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "resource_id", name=op.f("pk_view_history")),
    )
    with op.batch_alter_table("view_history", schema=None) as batch_op:
        batch_op.create_index("ix_view_history_recent", ["user_id", "viewed_at"], unique=False)

    op.create_table(
        "submission_files",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("blob_key", sa.String(length=512), nullable=False),
        sa.Column("preview_key", sa.String(length=512), nullable=True),
        sa.Column("preview_status", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_files_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_files")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_submission_files_blob_key")),
        sa.UniqueConstraint("preview_key", name=op.f("uq_submission_files_preview_key")),
    )
    with op.batch_alter_table("submission_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_files_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_files_submission_id"))

    op.drop_table("submission_files")
    with op.batch_alter_table("view_history", schema=None) as batch_op:
        batch_op.drop_index("ix_view_history_recent")

    op.drop_table("view_history")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submissions_student_id"))
        batch_op.drop_index(batch_op.f("ix_submissions_class_id"))

    op.drop_table("submissions")
    op.drop_table("favorites")
    with op.batch_alter_table("class_teachers", schema=None) as batch_op:
        batch_op.drop_index("ix_class_teachers_teacher")

    op.drop_table("class_teachers")
    op.drop_table("class_students")
    op.drop_table("assignment_resources")
    with op.batch_alter_table("assignment_classes", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_classes_class")

    op.drop_table("assignment_classes")
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_classes_school_id"))

    op.drop_table("classes")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_teacher_id"))
        batch_op.drop_index(batch_op.f("ix_assignments_school_id"))

    op.drop_table("assignments")
    op.drop_table("school_editions")
    with op.batch_alter_table("catalog_lessons", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_lessons_book")

    op.drop_table("catalog_lessons")
