"""Registers every domain's job handlers, periodic duties and search sources.

Imported by the app and the CLI; domains register themselves on import, so importing them here
is all the wiring there is.
"""

from __future__ import annotations

from services.assignments import previews as submission_previews
from services.indexing.service import drain_search_outbox
from services.jobs.worker import PERIODIC_TASKS
from services.maintenance.service import drain_blob_deletions, run_maintenance_if_due
from services.research.topics import indexing as topic_indexing
from services.resources import indexing as resource_indexing
from services.resources import processing as resource_processing

REGISTERED_MODULES = (resource_indexing, resource_processing, topic_indexing, submission_previews)

for _task in (
    resource_indexing.reindex_popularity_if_due,
    drain_search_outbox,
    drain_blob_deletions,
    run_maintenance_if_due,
):
    if _task not in PERIODIC_TASKS:
        PERIODIC_TASKS.append(_task)
