"""Every ORM model, imported in one place so Alembic and the app see the same metadata."""

from storage.database import Base
from storage.models.identity import LoginFailure, PublicationStatus, Role, School, ShareLink, User, Visibility
from storage.models.jobs import Job, JobStatus

__all__ = [
    "Base",
    "Job",
    "JobStatus",
    "LoginFailure",
    "PublicationStatus",
    "Role",
    "School",
    "ShareLink",
    "User",
    "Visibility",
]
