"""Every ORM model, imported in one place so Alembic and the app see the same metadata."""

from storage.database import Base
from storage.models.identity import LoginFailure, PublicationStatus, Role, School, ShareLink, User, Visibility
from storage.models.jobs import Job, JobStatus
from storage.models.maintenance import BlobDeletion, MaintenanceRun
from storage.models.research import (
    Notification,
    NotificationKind,
    ObservationCategory,
    Post,
    ReviewComment,
    Revision,
    Rubric,
    RubricCriterion,
    RubricScore,
    Topic,
    TopicResource,
    TopicState,
)
from storage.models.resources import (
    FilePage,
    FilePurpose,
    ProcessingStatus,
    Resource,
    ResourceFile,
    ResourceType,
    ResourceVersion,
    SubtitleCue,
    UploadSession,
    UploadStatus,
)
from storage.models.search import SearchOutbox, SynonymGroup

__all__ = [
    "Base",
    "BlobDeletion",
    "FilePage",
    "FilePurpose",
    "Job",
    "JobStatus",
    "LoginFailure",
    "MaintenanceRun",
    "Notification",
    "NotificationKind",
    "ObservationCategory",
    "Post",
    "ProcessingStatus",
    "PublicationStatus",
    "Resource",
    "ResourceFile",
    "ResourceType",
    "ResourceVersion",
    "ReviewComment",
    "Revision",
    "Role",
    "Rubric",
    "RubricCriterion",
    "RubricScore",
    "School",
    "SearchOutbox",
    "ShareLink",
    "SubtitleCue",
    "SynonymGroup",
    "Topic",
    "TopicResource",
    "TopicState",
    "UploadSession",
    "UploadStatus",
    "User",
    "Visibility",
]
