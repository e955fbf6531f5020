"""What a subject shows while a request waits, and which changes need one. Pure functions.

The subject's own visibility column is always what is EFFECTIVELY shown (so search, lists and pages
stay correct without knowing about review); the request holds what was asked for.
"""

from __future__ import annotations

import uuid

from storage.models.identity import Visibility
from storage.models.review import ReviewCause, ReviewLevel

# From the fewest readers to the most.
_AUDIENCE = (Visibility.private, Visibility.school, Visibility.district, Visibility.public)
WIDE = frozenset({Visibility.district, Visibility.public})


def rank(visibility: Visibility) -> int:
    return _AUDIENCE.index(visibility)


def wider(a: Visibility, b: Visibility | None) -> bool:
    """Whether `a` shows to more people than `b` (None: nobody, a new or unpublished subject)."""
    return b is None or rank(a) > rank(b)


def level_needed(
    requested: Visibility,
    approved: Visibility | None,
    cause: ReviewCause,
    *,
    school_requires_review: bool,
) -> ReviewLevel | None:
    """Which review this change needs, if any.

    - district/public: a widening (publishing, or widening later) always; a content change (new round,
      replaced file, edit) of something already approved that wide, too.
    - school: only a widening to the school, and only where the school requires review.
    """
    if requested in WIDE and (wider(requested, approved) or cause != ReviewCause.publish):
        return ReviewLevel.district
    if requested == Visibility.school and school_requires_review and wider(requested, approved):
        return ReviewLevel.school
    return None


def shown_meanwhile(
    requested: Visibility,
    approved: Visibility | None,
    level: ReviewLevel,
    *,
    school_id: uuid.UUID | None,
    school_requires_review: bool,
) -> Visibility:
    """What a subject shows while its request waits (and after a rejection):

    - what was approved before, when narrower than the request (a school resource asking for the
      district stays with its school; a private one stays its owner's);
    - otherwise (new, or re-reviewed after a change) its school, which needs no review, unless the
      school reviews school publishing too;
    - otherwise only its owner (and the reviewers, through the queue).
    """
    if approved is not None and rank(approved) < rank(requested):
        return approved
    if level == ReviewLevel.district and school_id is not None and not school_requires_review:
        return Visibility.school
    return Visibility.private
