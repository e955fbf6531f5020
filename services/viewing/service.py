"""Watch time (观课时长): what each viewer watched of a recording, as the union of the ranges their
player reported, so replaying a part or leaving a tab open never inflates it.

Reports are checked against the recording's duration and limited per viewer and recording. Signed-in
viewers are counted by who they are (and resume where they stopped); share-link guests and other
anonymous viewers by a random id their browser keeps, stored only as a keyed hash. New seconds of
signed-in viewers are also added to the day's tally, which 研修统计 sums over a period.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services import authz
from services.authz import Action, Principal
from services.errors import AppError, Forbidden, NotFound
from services.resources import service as resources
from services.resources.repository import ResourceRepository
from services.settings import Settings
from services.video import service as video
from services.viewing import ranges as watched
from services.viewing.repository import WatchRepository
from services.viewing.schemas import (
    StudentProgress,
    StudentProgressRead,
    TaskVideo,
    VideoProgress,
    WatchProgressRead,
    WatchReport,
    WatchStats,
)
from storage.database import utcnow
from storage.models.identity import Role
from storage.models.resources import FilePurpose, Resource, ResourceFile, ResourceType
from storage.models.video import WatchProgress

# Players report a moment late; positions this far past the end are still the end.
END_SLACK_S = 2.0
RATE_WINDOW = timedelta(minutes=1)
FINISHED_AT = 0.9  # a micro-lesson counts as finished once 90 % of it was watched


class InvalidReport(AppError):
    status_code = 422
    code = "invalid_payload"


class TooManyReports(AppError):
    status_code = 429
    code = "rate_limited"


def viewer_key(principal: Principal | None, guest_id: str | None, settings: Settings) -> str:
    if principal is not None:
        return f"user:{principal.user_id}"
    if not guest_id:
        raise InvalidReport("guest_id is required when not signed in")
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(), f"watch-guest:{guest_id}".encode(), hashlib.sha256
    )
    return f"guest:{digest.hexdigest()[:40]}"


async def _duration(session: AsyncSession, file: ResourceFile) -> float | None:
    if file.duration_s:
        return file.duration_s
    renditions = await video.renditions_of(session, file.id)
    return renditions.duration_s if renditions is not None else None


def _completion(progress: WatchProgress | None, duration_s: float | None) -> float:
    if progress is None or not duration_s:
        return 0.0
    return round(min(1.0, progress.watched_s / duration_s), 4)


def _read(progress: WatchProgress | None, duration_s: float | None) -> WatchProgressRead:
    return WatchProgressRead(
        position_s=progress.position_s if progress else 0.0,
        watched_s=progress.watched_s if progress else 0.0,
        duration_s=duration_s,
        completion=_completion(progress, duration_s),
    )


async def _video_file(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    share: str | None,
) -> ResourceFile:
    file = await resources.readable_file(session, settings, principal, resource_id, file_id, share)
    if file.category != "video":
        raise NotFound("Only videos have watch time")
    return file


async def report(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    share: str | None,
    data: WatchReport,
) -> WatchProgressRead:
    file = await _video_file(session, settings, principal, resource_id, file_id, share)
    duration = await _duration(session, file)
    limit = (duration + END_SLACK_S) if duration else 24 * 3600.0
    for start, end in data.ranges:
        if not (0 <= start <= end <= limit):
            raise InvalidReport(
                f"Watched ranges must lie within the recording (0–{limit:g} s) and end after they start"
            )
    if data.position_s > limit:
        raise InvalidReport(f"The position lies beyond the recording's end ({limit:g} s)")
    key = viewer_key(principal, data.guest_id, settings)
    repository = WatchRepository(session)
    progress = await repository.progress(file.id, key, for_update=True)
    now = utcnow()
    if progress is None:
        progress = WatchProgress(
            id=uuid.uuid4(),
            file_id=file.id,
            resource_id=file.resource_id,
            viewer_key=key,
            viewer_id=principal.user_id if principal else None,
            ranges=[],
            watched_s=0.0,
            position_s=0.0,
            window_started_at=now,
            window_reports=0,
        )
        repository.add(progress)
    if progress.window_started_at is None or now - progress.window_started_at >= RATE_WINDOW:
        progress.window_started_at, progress.window_reports = now, 0
    if progress.window_reports >= settings.watch_reports_per_minute:
        raise TooManyReports("Too many watch reports; the player reports every 15 seconds")
    progress.window_reports += 1
    before = progress.watched_s
    capped = [(min(start, duration or start), min(end, duration or end)) for start, end in data.ranges]
    progress.ranges = watched.union([*progress.ranges, *capped])
    progress.watched_s = watched.length(progress.ranges)
    progress.position_s = min(data.position_s, duration or data.position_s)
    progress.duration_s = duration
    progress.updated_at = now
    gained = progress.watched_s - before
    if principal is not None and gained > 0:
        await repository.add_day_seconds(principal.user_id, file.id, now.date(), gained)
    return _read(progress, duration)


async def my_progress(
    session: AsyncSession,
    settings: Settings,
    principal: Principal | None,
    resource_id: uuid.UUID,
    file_id: uuid.UUID,
    share: str | None,
    guest_id: str | None,
) -> WatchProgressRead:
    file = await _video_file(session, settings, principal, resource_id, file_id, share)
    duration = await _duration(session, file)
    if principal is None and not guest_id:
        return _read(None, duration)
    progress = await WatchRepository(session).progress(file.id, viewer_key(principal, guest_id, settings))
    return _read(progress, duration)


async def _round_video(session: AsyncSession, resource: Resource, number: int) -> tuple[int, ResourceFile]:
    version = await resources.target_version(session, resource, number)
    files = await ResourceRepository(session).files_of_version(version.id)
    primary = next((f for f in files if f.purpose == FilePurpose.primary and f.category == "video"), None)
    if primary is None:
        raise NotFound("This round has no video")
    return version.number, primary


async def round_stats(
    session: AsyncSession, principal: Principal, resource_id: uuid.UUID, number: int
) -> WatchStats:
    """For whoever may change the lesson (its teacher): viewers, watch time, completion, retention."""
    resource = await resources.load_resource(session, resource_id)
    authz.authorize(principal, Action.read, resource)
    if not authz.can(principal, Action.update, resource):
        raise Forbidden("Only the lesson's teacher sees who watched it")
    version_number, file = await _round_video(session, resource, number)
    duration = await _duration(session, file)
    rows = await WatchRepository(session).of_file(file.id)
    viewers = [row for row in rows if row.watched_s > 0 and row.viewer_id != resource.owner_id]
    total = sum(row.watched_s for row in viewers)
    completion = [_completion(row, duration) for row in viewers]
    retention = [0.0] * watched.RETENTION_POINTS
    if viewers and duration:
        for index, moment in enumerate(watched.retention_points(duration)):
            seen = sum(1 for row in viewers if watched.covers(row.ranges, moment))
            retention[index] = round(seen / len(viewers), 4)
    return WatchStats(
        version=version_number,
        file_id=file.id,
        duration_s=duration,
        viewers=len(viewers),
        guests=sum(1 for row in viewers if row.viewer_id is None),
        total_watch_s=round(total, 2),
        average_completion=round(sum(completion) / len(completion), 4) if completion else 0.0,
        retention=retention,
    )


async def student_progress(
    session: AsyncSession, settings: Settings, principal: Principal, resource_id: uuid.UUID, number: int
) -> StudentProgressRead:
    """A teacher's view of a micro-lesson (微课): how far each student of their own school got."""
    if principal.role == Role.student or principal.school_id is None:
        raise Forbidden("Teachers of a school see their students' progress")
    resource = await resources.readable_resource(session, settings, principal, resource_id)
    if resource.resource_type != ResourceType.micro_lesson:
        raise NotFound("Student progress is kept for micro-lessons")
    version_number, file = await _round_video(session, resource, number)
    duration = await _duration(session, file)
    repository = WatchRepository(session)
    by_viewer = {row.viewer_id: row for row in await repository.of_file(file.id) if row.viewer_id}
    students = []
    for student in await repository.students_of_school(principal.school_id):
        row = by_viewer.get(student.id)
        completion = _completion(row, duration)
        students.append(
            StudentProgress(
                student_id=student.id,
                display_name=student.display_name,
                watched_s=row.watched_s if row else 0.0,
                completion=completion,
                finished=completion >= FINISHED_AT,
                position_s=row.position_s if row else 0.0,
            )
        )
    students.sort(key=lambda item: (-item.completion, item.display_name))
    return StudentProgressRead(version=version_number, duration_s=duration, students=students)


# -- assignments: a 微课 task's watch progress ---------------------------------------------------------


async def task_videos(session: AsyncSession, resource_ids: Sequence[uuid.UUID]) -> list[TaskVideo]:
    """The recordings to watch among these resources: each one's newest round's primary video."""
    found = []
    for file in await WatchRepository(session).current_videos(resource_ids):
        duration = await _duration(session, file)
        found.append(TaskVideo(resource_id=file.resource_id, file_id=file.id, duration_s=duration))
    return found


async def progress_of_students(
    session: AsyncSession, videos: Sequence[TaskVideo], student_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[VideoProgress]]:
    """Per student, how far they got in each of the videos (in the videos' order; nothing watched
    counts as 0). Callers have checked that the caller may see these students' work."""
    rows = await WatchRepository(session).of_users([video.file_id for video in videos], student_ids)
    by_key = {(row.file_id, row.viewer_id): row for row in rows}
    progress: dict[uuid.UUID, list[VideoProgress]] = {}
    for student_id in student_ids:
        shares = []
        for recording in videos:
            row = by_key.get((recording.file_id, student_id))
            completion = _completion(row, recording.duration_s)
            shares.append(
                VideoProgress(
                    resource_id=recording.resource_id,
                    watched_s=row.watched_s if row else 0.0,
                    completion=completion,
                    finished=completion >= FINISHED_AT,
                )
            )
        progress[student_id] = shares
    return progress
