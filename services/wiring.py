"""Registers every domain's job handlers, periodic duties and search sources.

Imported by the app and the CLI; domains register themselves on import, so importing them here
is all the wiring there is.
"""

from __future__ import annotations

from services.assignments import previews as submission_previews
from services.assignments import texts as submission_texts
from services.documents import screen_jobs
from services.indexing.service import drain_search_outbox
from services.jobs.worker import OWN_SCHEDULE_TASKS, PERIODIC_TASKS
from services.maintenance.service import (
    drain_blob_deletions,
    forget_expired_records_if_due,
    run_maintenance_if_due,
)
from services.research.topics import indexing as topic_indexing
from services.resources import indexing as resource_indexing
from services.resources import processing as resource_processing
from services.video import service as video_service

REGISTERED_MODULES = (
    resource_indexing,
    resource_processing,
    screen_jobs,
    topic_indexing,
    video_service,
    submission_previews,
    submission_texts,
)

# Index changes never wait behind a slow job: the outbox drain runs on a schedule of its own.
if drain_search_outbox not in OWN_SCHEDULE_TASKS:
    OWN_SCHEDULE_TASKS.append(drain_search_outbox)
for _task in (
    resource_indexing.reindex_popularity_if_due,
    drain_blob_deletions,
    run_maintenance_if_due,
    forget_expired_records_if_due,
):
    if _task not in PERIODIC_TASKS:
        PERIODIC_TASKS.append(_task)
