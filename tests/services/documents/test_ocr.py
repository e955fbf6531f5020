"""OCR of pictures: scans in any picture format, sideways ones, and the pictures on slides."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.documents.ocr import OcrBudget, recognize
from services.resources.extraction import extract_pages
from services.resources.processing import _analyse
from storage.models.resources import ProcessingStatus
from tests.services.documents import generated

LINES = ("小蝌蚪找妈妈", "青蛙妈妈的样子")


@pytest.mark.parametrize(("format", "suffix"), [("PNG", "png"), ("WEBP", "webp")])
def test_pictures_are_read_into_one_ocr_page(tmp_path: Path, format: str, suffix: str) -> None:
    path = tmp_path / f"scan.{suffix}"
    path.write_bytes(generated.image_bytes(generated.scan(LINES), format, lossless=True))
    budget = OcrBudget(max_pages=3)

    [page] = extract_pages(path, suffix, budget)

    assert (page.number, page.source, page.text.splitlines()) == (1, "ocr", list(LINES))
    assert page.confidence is not None and page.confidence > 0.8
    assert budget.used == 1


def test_a_scan_lying_on_its_side_without_orientation_data_is_read() -> None:
    sideways = generated.scan(LINES).transpose(Image.Transpose.ROTATE_270)

    recognised = recognize(sideways)

    assert recognised is not None and recognised.text.splitlines() == list(LINES)


def test_slide_pictures_are_read_with_the_slide_text(tmp_path: Path) -> None:
    path = tmp_path / "slides.pptx"
    path.write_bytes(generated.pptx_with_picture("课文朗读", generated.scan(LINES)))

    [slide] = extract_pages(path, "pptx", OcrBudget())
    [without_ocr] = extract_pages(path, "pptx", OcrBudget(enabled=False))

    assert (slide.source, slide.text.splitlines()) == ("ocr", ["课文朗读", *LINES])
    assert (without_ocr.source, without_ocr.text) == ("text", "课文朗读")


def test_with_ocr_off_pictures_are_skipped_as_before(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(generated.image_bytes(generated.scan(LINES), "PNG"))

    assert _analyse(path, "png", "image", OcrBudget(enabled=False)).status == ProcessingStatus.skipped
    outcome = _analyse(path, "png", "image", OcrBudget())
    assert outcome.status == ProcessingStatus.ready and outcome.pages
