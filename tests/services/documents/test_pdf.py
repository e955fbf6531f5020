"""PDF text through PDFium: legacy Chinese encodings, damaged and protected files, garbage pages."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest

from services.documents.base import ExtractionError, PageText
from services.documents.ocr import OcrBudget
from services.documents.pdf import pdf_pages, pypdf_pages
from services.documents.quality import is_garbage
from tests import samples
from tests.services.documents import generated

OFF = OcrBudget(enabled=False)
SCAN_LINES = ("期中考试试卷", "第三单元练习题")


def written(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("font", "encoding", "codec", "text"),
    [
        ("STSong-Light", "GBK-EUC-H", "gbk", "小蝌蚪找妈妈 青蛙的成长"),
        ("STSong-Light", "GBpc-EUC-H", "gb2312", "小蝌蚪找妈妈 青蛙的成长"),
        ("STSong-Light", "UniGB-UCS2-H", "utf-16-be", "小蝌蚪找妈妈 青蛙的成长"),
        ("MSung-Light", "B5pc-H", "big5", "小蝌蚪找媽媽 青蛙的成長"),
        ("MSung-Light", "ETen-B5-H", "big5", "小蝌蚪找媽媽 青蛙的成長"),
    ],
)
def test_legacy_chinese_encodings_are_read(
    tmp_path: Path, font: str, encoding: str, codec: str, text: str
) -> None:
    data = generated.legacy_cid_pdf(text, font, encoding, codec)

    assert [(page.number, page.text, page.source) for page in pdf_pages(written(tmp_path, data), OFF)] == [
        (1, text, "text")
    ]


def test_what_pypdf_made_of_big5_was_garbage_and_pdfium_reads_it(tmp_path: Path) -> None:
    data = generated.legacy_cid_pdf("小蝌蚪找媽媽 青蛙的成長", "MSung-Light", "B5pc-H", "big5")

    assert is_garbage(pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text())
    assert pdf_pages(written(tmp_path, data), OFF)[0].text == "小蝌蚪找媽媽 青蛙的成長"


def test_a_cyclic_page_tree_is_recovered(tmp_path: Path) -> None:
    data = generated.cyclic_page_tree_pdf(["第一页 循环页树", "第二页"])
    with pytest.raises(pypdf.errors.PdfReadError):
        _ = pypdf.PdfReader(io.BytesIO(data)).pages[0]

    assert [page.text for page in pdf_pages(written(tmp_path, data), OFF)] == ["第一页 循环页树", "第二页"]


ATTACHED_TEXT = "附件里的课件 小蝌蚪找妈妈"


@pytest.mark.parametrize(
    "reader", [pdf_pages, lambda path, budget: pypdf_pages(path)], ids=["pdfium", "pypdf"]
)
def test_a_readable_pdf_with_an_encrypted_attachment_is_read(
    tmp_path: Path, reader: Callable[[Path, OcrBudget], list[PageText]]
) -> None:
    """Both readers: PDFium first, and pypdf for the files PDFium refuses."""
    protected_attachment = generated.pdf_with_attachment(
        [ATTACHED_TEXT], "答案.pdf", generated.password_pdf(["参考答案"])
    )
    encrypted_stream = generated.pdf_with_encrypted_embedded_file([ATTACHED_TEXT])
    # The second is encrypted (pypdf's own reading of its security handler takes the password, not
    # ""), but its pages are stored in the clear and only its attachment is not.
    assert not pypdf.PdfReader(io.BytesIO(encrypted_stream)).decrypt("")
    assert pypdf.PdfReader(io.BytesIO(encrypted_stream)).decrypt("attachment-password")
    update = encrypted_stream[encrypted_stream.index(b"%%EOF") :]
    assert b"/EmbeddedFile" in update and "参考答案".encode() not in update

    for data in (protected_attachment, encrypted_stream):
        assert [page.text for page in reader(written(tmp_path, data), OFF)] == [ATTACHED_TEXT]


@pytest.mark.parametrize(
    "reader", [pdf_pages, lambda path, budget: pypdf_pages(path)], ids=["pdfium", "pypdf"]
)
def test_a_password_to_open_fails_clearly_on_both_readers(
    tmp_path: Path, reader: Callable[[Path, OcrBudget], list[PageText]]
) -> None:
    with pytest.raises(ExtractionError, match="password protected"):
        reader(written(tmp_path, generated.password_pdf(["机密"])), OFF)


def test_what_no_reader_opens_is_damaged(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="damaged"):
        pdf_pages(written(tmp_path, b"%PDF-1.7\n" + b"\x00garbage" * 50), OFF)


def test_garbage_pages_are_left_out_when_they_cannot_be_ocrd(tmp_path: Path) -> None:
    data = samples.pdf_bytes(["第一页 正常的文字", "/g18/g152/g33/g27/g44 /g91/g3/g12"])

    pages = pdf_pages(written(tmp_path, data), OFF)

    assert [(page.number, page.text) for page in pages] == [(1, "第一页 正常的文字")]


def test_a_scanned_page_and_a_garbage_text_layer_go_to_ocr(tmp_path: Path) -> None:
    budget = OcrBudget(max_pages=5)
    scanned = pdf_pages(written(tmp_path, generated.scanned_pdf(SCAN_LINES)), budget)
    layered = pdf_pages(
        written(tmp_path, generated.scanned_pdf(SCAN_LINES, text_layer="/g18/g152/g33 /g27/g44/g9")), budget
    )

    for pages in (scanned, layered):
        [page] = pages
        assert (page.number, page.source) == (1, "ocr")
        assert page.text.splitlines() == list(SCAN_LINES)
        assert page.confidence is not None and 0.8 < page.confidence <= 1
    assert budget.used == 2


def test_without_ocr_budget_a_scan_has_no_text(tmp_path: Path) -> None:
    budget = OcrBudget(max_pages=0)

    assert pdf_pages(written(tmp_path, generated.scanned_pdf(SCAN_LINES)), budget) == []
    assert budget.skipped == 1
