"""The search-index interface every backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import Protocol, runtime_checkable

from search.documents import AccessFilter, SearchDocument, SearchQuery, SearchResult, Suggestion


class SearchUnavailable(Exception):
    """The backend cannot be reached; callers keep the change in the outbox and retry."""


@runtime_checkable
class SearchIndex(Protocol):
    name: str

    async def ensure_ready(self) -> None:
        """Create the live index (and its alias) when missing."""

    async def ping(self) -> None:
        """Raise SearchUnavailable when the backend cannot serve queries."""

    async def upsert(self, documents: Sequence[SearchDocument]) -> None:
        """Insert or replace documents by id. Visible to search after refresh()."""

    async def delete(self, ids: Sequence[str]) -> None:
        """Delete documents by id; unknown ids are ignored."""

    async def delete_by_parent(self, parent_ids: Sequence[str], keep: Sequence[str] = ()) -> None:
        """Delete every document belonging to these parents (a resource's pages and cues), but for the
        ids in `keep`: a parent is replaced by writing its new documents first and then deleting what
        they no longer include, so searches never see it missing meanwhile."""

    async def replace_parents(self, parent_ids: Sequence[str], documents: Sequence[SearchDocument]) -> None:
        """Make these parents' documents exactly `documents` (the outbox drain's one write).

        The documents are written first and only then is what they no longer include deleted (a
        replaced file's pages, a removed subtitle's cues), so a parent never drops out of search
        meanwhile. Everything is visible to search when this returns. Stale documents are found among
        what earlier `replace_parents` calls wrote, and among other writes once `refresh()` has run.
        """

    async def refresh(self) -> None:
        """Make every write so far visible to search."""

    async def search(self, query: SearchQuery) -> SearchResult: ...

    async def suggest(self, prefix: str, access: AccessFilter, *, limit: int = 10) -> list[Suggestion]:
        """Titles of resources and posts the reader may see that start with what was typed.

        The prefix matches the start of a title or of a later segment of it, in Chinese, as joined
        pinyin or as joined initials (search.suggest). One suggestion per title; a title that starts
        with the prefix as typed comes first, then the most popular, then the shortest, then the newest.
        """
        ...

    async def count(self) -> int:
        """Number of documents in the live index."""

    async def rebuild(self, documents: AsyncIterable[Sequence[SearchDocument]]) -> int:
        """Fill a fresh versioned index from batches, then swap it in atomically.

        Writes made while a rebuild runs go to both the live and the new index.
        Returns the number of documents written.
        """
        ...

    async def drop_all(self) -> None:
        """Remove every index this instance owns (tests and uninstall)."""

    async def close(self) -> None: ...
