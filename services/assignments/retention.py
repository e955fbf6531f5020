"""Minors' data is not kept for ever: submissions go a set time after their class's school year."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from services.assignments.repository import SubmissionRepository
from services.context import AppContext
from services.maintenance.repository import BlobDeletionRepository
from storage.database import utcnow

BATCH = 200
# School years end on 31 August of the calendar year after the one they start in.
YEAR_END = (8, 31)


def last_expired_school_year(now: datetime, retention_days: int) -> int:
    """The latest school year whose end lies more than `retention_days` before `now`."""
    cutoff = (now - timedelta(days=retention_days)).date()
    # A school year Y ends on 31 August of Y + 1.
    ended_this_calendar_year = cutoff >= date(cutoff.year, *YEAR_END)
    return cutoff.year - 1 if ended_this_calendar_year else cutoff.year - 2


async def purge_expired_submissions(context: AppContext, now: datetime | None = None) -> int:
    """Remove the submissions (and, through deferred deletion, their files) of expired school years."""
    days = context.settings.submission_retention_days
    if days <= 0:
        return 0
    last_year = last_expired_school_year(now or utcnow(), days)
    removed = 0
    while True:
        async with context.sessionmaker() as session, session.begin():
            repository = SubmissionRepository(session)
            expired = await repository.expired(last_year, BATCH)
            for submission in expired:
                BlobDeletionRepository(session).add(await repository.remove_files(submission.id))
                await repository.delete(submission)
        removed += len(expired)
        if len(expired) < BATCH:
            return removed
