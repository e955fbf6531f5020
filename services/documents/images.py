"""Text in pictures: uploaded images (scans, phone photos of 学案 and 试卷) and slides' pictures."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

from PIL import Image

from services.documents import ocr
from services.documents.base import ExtractionError, PageCollector, PageText

logger = logging.getLogger(__name__)

# Beyond any phone camera (200 MP sensors bin to 12-50 MP): a bigger picture is a decompression bomb.
MAX_IMAGE_PIXELS = 100_000_000


def _opened(source: Path | io.BytesIO) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow warns (then errors) on its own bound; ours is checked right after opening.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(source)
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ExtractionError("The picture is too large to be read")
    # Animated pictures: the first frame.
    image.seek(0)
    image.load()
    return image


def image_pages(path: Path, budget: ocr.OcrBudget) -> list[PageText]:
    """The text of an uploaded picture as its one page, read by OCR (none when the budget is spent)."""
    try:
        image = _opened(path)
    except ExtractionError:
        raise
    except Exception as exc:
        logger.info("Picture %s could not be read", path.name, exc_info=True)
        raise ExtractionError("The picture could not be read") from exc
    if not budget.take():
        return []
    recognised = ocr.recognize(image)
    collector = PageCollector()
    if recognised is not None:
        collector.add(1, recognised.text, "ocr", recognised.confidence)
    return collector.pages


def picture_text(blob: bytes, budget: ocr.OcrBudget) -> ocr.OcrText | None:
    """OCR of a picture inside a document (a slide's screenshot or photo); None when it has no text,
    is no picture Pillow reads (EMF, WMF) or is too small to hold text."""
    try:
        image = _opened(io.BytesIO(blob))
    except Exception:
        logger.info("A picture in a document could not be read", exc_info=True)
        return None
    if min(image.size) < ocr.MIN_SIDE_PX * 2 or not budget.take():
        return None
    return ocr.recognize(image)
