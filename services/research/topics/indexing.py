"""A topic as search documents (kind post): the topic itself and each post still standing.

Every document has parent_id = the topic, title = the topic's title (so a post is found, and
grouped, under its topic), body = the Markdown as written, and the topic's school, owner,
visibility and status, so search applies the topic's read rule to its posts too.

A topic spans several grades and subjects while a document has one value per facet field: `grade`
and `stage` come from the lowest grade and `subject` from the first subject, so the facets count a
topic once, and every grade and subject is also a tag (年级:3, 年级:5, 学科:语文, 学科:数学), so
`tags=年级:5` finds a topic whatever grade it lists first.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from search.documents import DocKind, SearchDocument
from services.indexing.service import DOCUMENT_SOURCES, PARENT_LOADERS
from services.research.topics.repository import TopicRepository
from services.research.topics.service import SEARCH_PARENT
from services.resources import curriculum
from storage.models.research import Post, Topic

GRADE_TAG = "年级:"
SUBJECT_TAG = "学科:"


def _common(topic: Topic) -> dict[str, object]:
    grades = sorted(topic.grades)
    return {
        "kind": DocKind.post,
        "parent_id": str(topic.id),
        "title": topic.title,
        "stage": curriculum.stage_for_grade(grades[0]) if grades else None,
        "grade": str(grades[0]) if grades else None,
        "subject": topic.subjects[0] if topic.subjects else None,
        "tags": [f"{GRADE_TAG}{grade}" for grade in grades]
        + [f"{SUBJECT_TAG}{subject}" for subject in topic.subjects],
        "school_id": str(topic.school_id) if topic.school_id else None,
        "owner_id": str(topic.owner_id),
        "visibility": topic.visibility.value,
        "status": topic.status.value,
    }


def documents_for(topic: Topic, posts: Sequence[Post]) -> list[SearchDocument]:
    common = _common(topic)
    body = "\n\n".join(part for part in (topic.body, topic.summary) if part)
    documents = [
        SearchDocument(
            id=str(topic.id), body=body, created_at=topic.created_at, popularity=topic.post_count, **common
        )
    ]
    documents.extend(
        SearchDocument(id=f"{topic.id}/post/{post.id}", body=post.body, created_at=post.created_at, **common)
        for post in posts
        if post.deleted_at is None
    )
    return documents


async def load_topic_documents(session: AsyncSession, topic_id: uuid.UUID) -> list[SearchDocument] | None:
    loaded = await TopicRepository(session).indexable([topic_id])
    return documents_for(*loaded[0]) if loaded else None


async def all_topic_documents(
    session: AsyncSession, batch_size: int
) -> AsyncIterator[Sequence[SearchDocument]]:
    after = None
    repository = TopicRepository(session)
    while ids := await repository.topic_ids_page(after, batch_size):
        after = ids[-1]
        documents = [
            document
            for topic, posts in await repository.indexable(ids)
            for document in documents_for(topic, posts)
        ]
        session.expunge_all()
        yield documents


PARENT_LOADERS[SEARCH_PARENT] = load_topic_documents
DOCUMENT_SOURCES.append(all_topic_documents)
