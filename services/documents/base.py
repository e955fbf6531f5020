"""What every reader of documents shares: the error it raises, page texts and their bounds."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from services.documents import quality

# Bounds on what one document may cost to index. Longer documents are read up to the bounds.
MAX_PAGES = 2000
MAX_CHARS_PER_PAGE = 20_000
MAX_TOTAL_CHARS = 2_000_000

PageSource = Literal["text", "ocr"]


class ExtractionError(Exception):
    """The file could not be read; the message says why in words a teacher can act on."""


@dataclass(frozen=True)
class PageText:
    number: int
    text: str
    # "text": read from the file's text; "ocr": some or all of it recognised in the page's pictures.
    source: PageSource = "text"
    # OCR's mean confidence (0..1) over the recognised characters; None for text read from the file.
    confidence: float | None = None


class PageCollector:
    """Normalizes page texts and enforces the page and character bounds."""

    def __init__(self) -> None:
        self.pages: list[PageText] = []
        self.total_chars = 0
        self.full = False
        # Numbers of pages whose text was garbage (see quality): left out, never indexed.
        self.garbage: list[int] = []

    def add(
        self, number: int, raw_text: str, source: PageSource = "text", confidence: float | None = None
    ) -> None:
        if number > MAX_PAGES or self.total_chars >= MAX_TOTAL_CHARS:
            self.full = True
        if self.full:
            return
        # Judged before normalizing, which would turn control characters into plain spaces.
        assessed = quality.assess(raw_text)
        if not assessed.usable:
            if assessed.cleaned.strip():
                self.garbage.append(number)
            return
        text = normalize_text(assessed.cleaned)[:MAX_CHARS_PER_PAGE][: MAX_TOTAL_CHARS - self.total_chars]
        if text:
            self.pages.append(PageText(number=number, text=text, source=source, confidence=confidence))
            self.total_chars += len(text)


def _build_cleanup_table() -> dict[int, str]:
    table = {code: " " for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(code) != "\n"}
    # PDFs made by some Chinese tools map glyphs to Kangxi radicals or compatibility ideographs
    # (⾏ U+2F8F instead of 行 U+884C): they look right but no search term ever matches them.
    for code in [*range(0x2E80, 0x2FE0), *range(0xF900, 0xFB00)]:
        normalized = unicodedata.normalize("NFKC", chr(code))
        if normalized != chr(code):
            table[code] = normalized
    return table


_CLEANUP = _build_cleanup_table()


def normalize_text(text: str) -> str:
    """One space between words, one line per paragraph, no blank lines, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CLEANUP)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
