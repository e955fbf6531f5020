"""Markdown for topics and posts, rendered to HTML that cannot carry script.

Raw HTML in the source is escaped, not passed through, and markdown-it's link validation refuses
javascript:, vbscript:, file: and data: (but images) URLs; links open with rel="nofollow noopener".

markdown-it is imported with the first rendering, not at start (issue 19: idle memory of the API).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{3,64})")


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def render(markdown: str) -> str:
    renderer = _renderer()
    tokens = renderer.parse(markdown)
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                child.attrSet("rel", "nofollow noopener")
    html: str = renderer.renderer.render(tokens, renderer.options, {})
    return html


def mentioned_usernames(markdown: str) -> list[str]:
    """@usernames in the text, in order, each once (trailing dots are punctuation, not the name)."""
    return list(dict.fromkeys(match.group(1).rstrip(".") for match in MENTION.finditer(markdown)))
