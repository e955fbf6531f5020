"""The Jinja environment of the pages: autoescaping always on, the presenters as filters."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup

from services.markdown import render as render_markdown
from services.web import presenters

if TYPE_CHECKING:
    from jinja2 import Environment

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static"


@functools.lru_cache(maxsize=256)
def _fingerprint(name: str) -> str:
    # Per process and per file, never per user: the same on every replica running the same code.
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A static file's URL with its content hash, so browsers never keep a stale script or sheet."""
    return f"{STATIC_PREFIX}/{name}?v={_fingerprint(name)}"


def markdown(text: str | None) -> Markup:
    """Markdown through services.markdown, the one renderer that refuses raw HTML and script links."""
    return Markup(render_markdown(text or ""))  # noqa: S704 (services.markdown escapes raw HTML)


def query_string(params: list[tuple[str, str]] | dict[str, Any]) -> str:
    items = params.items() if isinstance(params, dict) else params
    return urlencode([(key, str(value)) for key, value in items if value is not None and value != ""])


@functools.cache
def _environment() -> Environment:
    """Made with the first page rendered: an API process that serves no page never imports Jinja2
    (issue 19: idle memory)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        clock=presenters.clock,
        local_time=presenters.local_time,
        file_size=presenters.file_size,
        grade=presenters.grade_label,
        highlighted=presenters.highlighted,
        markdown=markdown,
    )
    environment.globals.update(
        static_url=static_url,
        query_string=query_string,
        RESOURCE_TYPES=presenters.RESOURCE_TYPES,
        VISIBILITIES=presenters.VISIBILITIES,
        STATUSES=presenters.STATUSES,
        ROLES=presenters.ROLES,
        PROCESSING=presenters.PROCESSING,
        TOPIC_STATES=presenters.TOPIC_STATES,
        ACTIVITY_LABELS=presenters.ACTIVITY_LABELS,
        NOTIFICATION_KINDS=presenters.NOTIFICATION_KINDS,
        MATCH_KINDS=presenters.MATCH_KINDS,
        FILE_CATEGORIES=presenters.FILE_CATEGORIES,
        FILE_PURPOSES=presenters.FILE_PURPOSES,
        REVIEW_STATES=presenters.REVIEW_STATES,
        REVIEW_ACTIONS=presenters.REVIEW_ACTIONS,
        REVIEW_CAUSES=presenters.REVIEW_CAUSES,
    )
    return environment


def render(name: str, context: dict[str, Any]) -> str:
    return _environment().get_template(name).render(context)
