"""PDF page texts with PDFium, and OCR of the pages whose text is missing or garbage.

PDFium (through pypdfium2, whose wheels bundle it with the Adobe CJK CMaps) reads the legacy
Chinese encodings (GBK-EUC-H, B5pc-H …) that older office suites wrote, and opens what other
readers recover: damaged cross-reference tables, cyclic page trees, encrypted attachments in an
unencrypted document. pypdf stays as the fallback for files PDFium cannot open at all, and reads
those whose password guards only their attachments too.

PDFium is not thread-safe, not even across documents: every call into it holds one process-wide
lock. OCR runs outside it.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from services.documents import ocr, quality
from services.documents.base import MAX_PAGES, ExtractionError, PageCollector, PageText

logger = logging.getLogger(__name__)

_pdfium_lock = threading.Lock()

# Scans are rendered at this resolution for OCR (10-point text is then about 28 px high).
RENDER_DPI = 200
MAX_RENDER_SIDE_PX = 3000
# A page whose own text is this short but which is mostly a picture is a scan with a caption.
SHORT_TEXT_CHARS = 20
LARGE_IMAGE_SHARE = 0.3

_NEEDS_PASSWORD = "The PDF is password protected"  # noqa: S105  # a message, not a password
_DAMAGED = "The PDF file is damaged or not a PDF"
_IDENTITY = "/Identity"


def pdf_pages(path: Path, budget: ocr.OcrBudget) -> list[PageText]:
    """Text of each page, numbered from 1; pages without usable text are OCR'd within ``budget``."""
    with _pdfium_lock:
        document = _open(path)
    if document is None:
        return pypdf_pages(path)
    try:
        return _read_pages(document, path, budget)
    finally:
        with _pdfium_lock:
            document.close()


def _open(path: Path) -> pdfium.PdfDocument | None:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            # Only a password to open the file stops us; restrictions on copying etc. don't.
            raise ExtractionError(_NEEDS_PASSWORD) from exc
        logger.info("PDFium could not open %s; trying pypdf", path.name, exc_info=True)
        return None


@contextmanager
def _page(document: pdfium.PdfDocument, index: int) -> Iterator[pdfium.PdfPage]:
    page = document[index]
    try:
        yield page
    finally:
        page.close()


def _read_pages(document: pdfium.PdfDocument, path: Path, budget: ocr.OcrBudget) -> list[PageText]:
    collector = PageCollector()
    with _pdfium_lock:
        page_count = len(document)
    failed = 0
    for index in range(min(page_count, MAX_PAGES)):
        try:
            with _pdfium_lock, _page(document, index) as page:
                text = _page_text(page)
                mostly_picture = _mostly_picture(page)
        except pdfium.PdfiumError:
            # One unreadable page shouldn't cost the document its other pages.
            logger.info("Page %d of %s could not be read", index + 1, path.name, exc_info=True)
            failed += 1
            continue
        assessed = quality.assess(text)
        usable = assessed.usable
        visible = sum(1 for char in assessed.cleaned if not char.isspace()) if usable else 0
        needs_ocr = not usable or (visible < SHORT_TEXT_CHARS and mostly_picture)
        recognised = _ocr_page(document, index, budget) if needs_ocr else None
        if recognised is not None:
            own = f"{assessed.cleaned}\n" if usable else ""
            collector.add(index + 1, own + recognised.text, "ocr", recognised.confidence)
        elif usable:
            collector.add(index + 1, assessed.cleaned)
        if collector.full:
            break
    if page_count and failed == page_count:
        raise ExtractionError("The PDF file is damaged: no page could be read")
    return collector.pages


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def _mostly_picture(page: pdfium.PdfPage) -> bool:
    width, height = page.get_size()
    area = width * height
    if area <= 0:
        return False
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = image.get_bounds()
        if (right - left) * (top - bottom) >= LARGE_IMAGE_SHARE * area:
            return True
    return False


def _ocr_page(document: pdfium.PdfDocument, index: int, budget: ocr.OcrBudget) -> ocr.OcrText | None:
    if not budget.take():
        return None
    try:
        with _pdfium_lock, _page(document, index) as page:
            image = _render(page)
    except pdfium.PdfiumError:
        logger.info("Page %d could not be rendered for OCR", index + 1, exc_info=True)
        return None
    return ocr.recognize(image)


def _render(page: pdfium.PdfPage) -> Image.Image:
    width, height = page.get_size()
    scale = min(RENDER_DPI / 72, MAX_RENDER_SIDE_PX / max(width, height, 1))
    bitmap = page.render(scale=scale, may_draw_forms=True)
    try:
        image: Image.Image = bitmap.to_pil()
        return image.copy()
    finally:
        bitmap.close()


def pypdf_pages(path: Path) -> list[PageText]:
    """What pypdf reads of a file PDFium refused: it tolerates some damage PDFium does not."""
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            if not _only_attachments_encrypted(reader):
                raise ExtractionError(_NEEDS_PASSWORD)
            reader = pypdf.PdfReader(io.BytesIO(_without_encryption_entry(path.read_bytes())))
        page_count = len(reader.pages)
    except ExtractionError:
        raise
    except Exception as exc:
        logger.info("%s", _DAMAGED, exc_info=True)
        raise ExtractionError(_DAMAGED) from exc
    collector = PageCollector()
    failed = 0
    for index in range(min(page_count, MAX_PAGES)):
        try:
            text = reader.pages[index].extract_text()
        except Exception:
            logger.info("Page %d of %s could not be read", index + 1, path.name, exc_info=True)
            failed += 1
            continue
        collector.add(index + 1, text)
        if collector.full:
            break
    if failed and failed == page_count:
        raise ExtractionError("The PDF file is damaged: no page could be read")
    return collector.pages


def _only_attachments_encrypted(reader: pypdf.PdfReader) -> bool:
    """Whether the password only guards the attached files (Acrobat's "encrypt only file
    attachments"): crypt filters (V 4 and 5) whose strings and streams are stored in the clear
    (the Identity filter, also their default), so the document itself opens without it."""
    entry = reader.trailer["/Encrypt"].get_object()
    if not isinstance(entry, pypdf.generic.DictionaryObject) or entry.get("/V") not in (4, 5):
        return False
    return all(entry.get(name, _IDENTITY) == _IDENTITY for name in ("/StmF", "/StrF"))


def _without_encryption_entry(data: bytes) -> bytes:
    """The file with its trailers' /Encrypt key renamed in place: pypdf has no public way to read a
    document it cannot decrypt, though this one's pages are stored in the clear. The name keeps its
    length, so every offset in the cross-reference tables still holds."""
    return data.replace(b"/Encrypt", b"/Encrypx")
