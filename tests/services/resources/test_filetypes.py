"""Type detection from magic bytes: real files are recognised, names never override the bytes."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable

import pytest
from PIL import Image

from services.resources.filetypes import (
    SNIFF_BYTES,
    FileCategory,
    detect_file_type,
    looks_like_undecodable_subtitles,
    served_filename,
)
from tests import samples

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE_FILE = OLE_MAGIC + bytes(512 - len(OLE_MAGIC))
CUES = [(1.0, 2.5, "同学们好"), (3.0, 4.0, "今天学习勾股定理")]


def detected_format(data: bytes, filename: str) -> str | None:
    detected = detect_file_type(data[:SNIFF_BYTES], filename)
    return detected.format if detected is not None else None


def gif_bytes() -> bytes:
    output = io.BytesIO()
    Image.new("P", (4, 4)).save(output, format="GIF")
    return output.getvalue()


def webp_bytes() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (4, 4)).save(output, format="WEBP")
    return output.getvalue()


def zip_bytes(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return output.getvalue()


def content_types(main_type: str) -> bytes:
    return (
        '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/main.xml" ContentType="{main_type}"/></Types>'
    ).encode()


def xlsx_bytes() -> bytes:
    # No spreadsheet library is needed for this: detection only looks at the package's structure.
    return zip_bytes(
        {
            "[Content_Types].xml": content_types(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
            ),
            "xl/workbook.xml": b"<workbook/>",
        }
    )


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00\x00\x00\x08free"


class _Unseekable(io.BytesIO):
    """Makes zipfile stream entries with data descriptors, as zipping tools writing to pipes do."""

    def seek(self, offset: int, whence: int = 0) -> int:
        raise OSError("not seekable")

    def seekable(self) -> bool:
        return False


# -- recognised files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "filename", "expected_format", "media_type", "extension", "category"),
    [
        (samples.mp4_bytes, "课例.mp4", "mp4", "video/mp4", ".mp4", FileCategory.video),
        (lambda: samples.video_bytes("mov"), "IMG_0001.MOV", "mov", "video/quicktime", ".mov", "video"),
        (lambda: samples.video_bytes("webm"), "录屏.webm", "webm", "video/webm", ".webm", "video"),
        (lambda: samples.pdf_bytes(["教案"]), "教案.pdf", "pdf", "application/pdf", ".pdf", "document"),
        (
            lambda: samples.docx_bytes(["教案"]),
            "教案.docx",
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
            "document",
        ),
        (
            lambda: samples.pptx_bytes(["课件"]),
            "课件.pptx",
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ".pptx",
            "document",
        ),
        (
            xlsx_bytes,
            "成绩.xlsx",
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
            "document",
        ),
        (lambda: OLE_FILE, "旧教案.doc", "doc", "application/msword", ".doc", "document"),
        (lambda: OLE_FILE, "旧课件.PPT", "ppt", "application/vnd.ms-powerpoint", ".ppt", "document"),
        (lambda: OLE_FILE, "成绩.xls", "xls", "application/vnd.ms-excel", ".xls", "document"),
        (samples.jpeg_bytes, "photo.jpg", "jpeg", "image/jpeg", ".jpg", "image"),
        (samples.png_bytes, "板书.png", "png", "image/png", ".png", "image"),
        (gif_bytes, "动图.gif", "gif", "image/gif", ".gif", "image"),
        (webp_bytes, "图.webp", "webp", "image/webp", ".webp", "image"),
        (lambda: samples.srt_bytes(CUES), "字幕.srt", "srt", "application/x-subrip", ".srt", "subtitle"),
        (lambda: samples.vtt_bytes(CUES), "字幕.vtt", "vtt", "text/vtt; charset=utf-8", ".vtt", "subtitle"),
    ],
)
def test_real_files_are_recognised_with_their_canonical_type(
    make: Callable[[], bytes],
    filename: str,
    expected_format: str,
    media_type: str,
    extension: str,
    category: str,
) -> None:
    detected = detect_file_type(make()[:SNIFF_BYTES], filename)

    assert detected is not None
    assert (detected.format, detected.media_type, detected.extension) == (
        expected_format,
        media_type,
        extension,
    )
    assert detected.category == FileCategory(category)


def test_video_with_sound_and_rotation_is_still_mp4() -> None:
    assert detected_format(samples.video_bytes(with_audio=True, rotation=90), "竖屏.mp4") == "mp4"


@pytest.mark.parametrize(
    "data",
    [
        ftyp(b"mp42", b"mp42", b"isom"),
        ftyp(b"M4V ", b"M4V ", b"M4A ", b"mp42"),
        ftyp(b"dash", b"iso6", b"mp41"),
        # An unknown major brand is fine as long as a compatible brand says MP4.
        ftyp(b"XYZW", b"isom"),
    ],
)
def test_mp4_brands(data: bytes) -> None:
    assert detected_format(data, "video.bin") == "mp4"


def test_quicktime_without_ftyp_from_before_2001_is_mov() -> None:
    assert detected_format(struct.pack(">I", 8) + b"wide" + b"\x00\x00\x10\x00mdat", "old.mov") == "mov"


def test_subtitles_with_byte_order_mark_or_in_gbk() -> None:
    srt = samples.srt_bytes(CUES)
    vtt = samples.vtt_bytes(CUES)

    assert detected_format(b"\xef\xbb\xbf" + srt, "a.srt") == "srt"
    assert detected_format(b"\xef\xbb\xbf" + vtt, "a.vtt") == "vtt"
    assert detected_format(srt.decode().encode("gbk"), "a.srt") == "srt"
    assert (
        detected_format(b"WEBVTT - \xe8\xaf\xbe\xe5\xa0\x82\n\n00:01.000 --> 00:02.000\nhi\n", "a") == "vtt"
    )


def test_srt_without_cue_numbers_and_in_legacy_or_utf16_encodings() -> None:
    unnumbered = "00:00:01,000 --> 00:00:02,000\n同學們好\n\n00:00:03,000 --> 00:00:04,000\n請坐\n"

    assert detected_format(unnumbered.encode(), "a.srt") == "srt"
    assert detected_format(unnumbered.encode("big5"), "a.srt") == "srt"
    assert detected_format(unnumbered.encode("utf-16"), "a.srt") == "srt"  # with its byte order mark
    assert detected_format(unnumbered.encode("utf-16-be"), "a.srt") is None
    assert looks_like_undecodable_subtitles(unnumbered.encode("utf-16-be"))
    assert looks_like_undecodable_subtitles(unnumbered.encode("utf-32-le"))
    assert not looks_like_undecodable_subtitles(samples.png_bytes())


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_subtitles_cut_inside_a_character_at_the_sniff_limit_are_recognised(encoding: str) -> None:
    # Callers pass the first SNIFF_BYTES, which may end halfway through a multi-byte character.
    data = samples.srt_bytes([(1.0, 2.0, "汉字" * 40)]).decode().encode(encoding)
    for cut in range(40, 80):
        assert detected_format(data[:cut], "a.srt") == "srt", cut


def test_docx_streamed_with_data_descriptors_is_recognised() -> None:
    output = _Unseekable()
    original_bytes = io.BytesIO(samples.docx_bytes(["流式"]))
    with (
        zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        zipfile.ZipFile(original_bytes) as original,
    ):
        for entry in original.infolist():
            archive.writestr(entry.filename, original.read(entry))
    data = output.getvalue()
    assert struct.unpack_from("<H", data, 6)[0] & 0x08, "expected a streamed entry"

    assert detected_format(data, "流式.docx") == "docx"


def test_ooxml_found_by_part_names_when_content_types_is_not_first() -> None:
    data = zip_bytes({"word/document.xml": b"<w:document/>", "[Content_Types].xml": b"<Types/>"})

    assert detected_format(data, "x.bin") == "docx"


def test_the_name_only_breaks_ties_between_formats_the_bytes_allow() -> None:
    # Part folders of two formats and no readable [Content_Types].xml: the bytes fit both.
    data = zip_bytes({"word/document.xml": b"<w/>", "ppt/presentation.xml": b"<p/>"})

    assert detected_format(data, "both.pptx") == "pptx"
    assert detected_format(data, "both.docx") == "docx"
    assert detected_format(data, "both.zip") is None


# -- lies, damage and everything else ------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "lying_name", "truth"),
    [
        (samples.png_bytes, "x.pdf", "png"),
        (samples.jpeg_bytes, "x.mp4", "jpeg"),
        (lambda: samples.pdf_bytes(["教案"]), "x.docx", "pdf"),
        (lambda: samples.docx_bytes(["教案"]), "x.pptx", "docx"),
        (lambda: samples.pptx_bytes(["课件"]), "x.docx", "pptx"),
        (samples.mp4_bytes, "x.mov", "mp4"),
        (lambda: samples.srt_bytes(CUES), "x.vtt", "srt"),
        (lambda: samples.vtt_bytes(CUES), "x.srt", "vtt"),
    ],
)
def test_the_bytes_decide_not_the_name(make: Callable[[], bytes], lying_name: str, truth: str) -> None:
    assert detected_format(make(), lying_name) == truth


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "empty.mp4"),
        (b"", "empty.srt"),
        (b"just some notes about the lesson\n", "notes.mp4"),
        ("这不是视频，只是一段文字。\n".encode(), "课例.mp4"),
        (b"\x00\x01\x02\x03" * 100, "data.pdf"),
        # Legacy Office: the name must say which of the three it is.
        (OLE_FILE, "x.pdf"),
        (OLE_FILE, "x.docx"),
        (OLE_FILE, "doc"),
        # Truncated magic numbers.
        (b"\x89PNG\r\n", "x.png"),
        (b"\xff\xd8", "x.jpg"),
        (b"GIF8", "x.gif"),
        # RIFF of a form we take none of (AVI is video now, WAVE audio): an animated cursor.
        (b"RIFF\x00\x00\x00\x00ACON", "x.webp"),
        (b"%PD", "x.pdf"),
        (b"PK\x03\x04\x14\x00", "x.docx"),
        (OLE_MAGIC[:6], "x.doc"),
        (b"\x00\x00\x00\x20ftyp", "x.mp4"),
        (b"\x1a\x45\xdf\xa3", "x.webm"),
    ],
)
def test_unsupported_or_unrecognisable_bytes(data: bytes, filename: str) -> None:
    assert detect_file_type(data, filename) is None


@pytest.mark.parametrize(
    "data",
    [
        # Still images use the same container; they are not videos (audio is audio, below).
        ftyp(b"heic", b"mif1", b"heic"),
        ftyp(b"avif", b"avif", b"mif1", b"miaf"),
        # A box too small to hold brands.
        struct.pack(">I", 12) + b"ftypisom" + bytes(16),
    ],
)
def test_iso_media_that_is_not_a_playable_video(data: bytes) -> None:
    assert detected_format(data, "x.mp4") is None


def test_real_m4a_audio_is_audio_not_a_video() -> None:
    detected = detect_file_type(samples.m4a_bytes(), "录音.mp4")
    assert detected is not None
    assert (detected.format, detected.category) == ("m4a", "audio")
    assert detected_format(ftyp(b"M4A ", b"M4A ", b"isom", b"mp42"), "x.mp4") == "m4a"


@pytest.mark.parametrize(
    ("data", "format"),
    [
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(64), "mp3"),
        # A bare MPEG-1 layer III frame header (128 kbit/s, 44.1 kHz).
        (b"\xff\xfb\x90\x64" + bytes(64), "mp3"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), "wav"),
        (b"OggS\x00\x02" + bytes(64), "ogg"),
    ],
)
def test_audio_of_reading_aloud(data: bytes, format: str) -> None:
    assert detected_format(data, "朗读.bin") == format


def test_utf16_text_is_not_taken_for_mp3() -> None:
    assert detected_format("1\n00:00:01,000 --> 00:00:02,000\n你好\n".encode("utf-16"), "x.srt") != "mp3"


def test_matroska_that_is_not_webm_is_mkv() -> None:
    # OBS records MKV; browsers don't reliably play it, the worker's renditions make it playable.
    assert detected_format(samples.video_bytes("matroska"), "课例.webm") == "mkv"


def test_zip_that_is_not_office_open_xml() -> None:
    assert detected_format(zip_bytes({"readme.txt": b"hello", "images/a.png": b"png"}), "x.docx") is None


def test_macro_enabled_word_document_is_not_docx() -> None:
    data = zip_bytes(
        {
            "[Content_Types].xml": content_types("application/vnd.ms-word.document.macroEnabled.main+xml"),
            "word/document.xml": b"<w:document/>",
        }
    )

    assert detected_format(data, "x.docx") is None


def test_zip_walk_skips_entry_data_instead_of_searching_it() -> None:
    # A stored entry whose content looks like a local header for "word/…": only a scan that ignores
    # the size fields would mistake this archive for a Word document.
    name = b"word/document.xml"
    fake_header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    data = zip_bytes({"notes.bin": fake_header}, compression=zipfile.ZIP_STORED)
    assert fake_header in data

    assert detected_format(data, "x.docx") is None


@pytest.mark.parametrize(
    "text",
    [
        "1\n00:00:01 --> 00:00:02\nno milliseconds\n",
        "one\n00:00:01,000 --> 00:00:02,000\nindex is not a number\n",
        "1\n00:00:61,000 --> 00:00:62,000\nseconds out of range\n",
        "WEBVTTX\n\n00:01.000 --> 00:02.000\nnot a header\n",
        "1\n\n\n",
    ],
)
def test_text_that_only_resembles_subtitles(text: str) -> None:
    assert detected_format(text.encode(), "x.srt") is None


def test_subtitle_text_with_a_nul_byte_is_binary() -> None:
    assert detected_format(samples.srt_bytes(CUES) + b"\x00", "a.srt") is None


def test_only_the_sniffed_prefix_is_considered() -> None:
    # Bytes past SNIFF_BYTES are never looked at, so callers that pass more get the same answer.
    assert detect_file_type(b"\x00" * SNIFF_BYTES + samples.png_bytes(), "x.png") is None


def test_a_pdf_header_after_markup_is_an_html_polyglot_not_a_pdf() -> None:
    polyglot = b"<html><script>alert(document.cookie)</script>%PDF-1.4\n" + samples.pdf_bytes(["x"])[9:]
    assert detect_file_type(polyglot, "x.html") is None
    assert detect_file_type(polyglot, "x.pdf") is None
    # Junk without markup before the header (mail and HTTP tools prepend it) is still a PDF, as for readers.
    prefixed = b"Content-Type: application/pdf\r\n\r\n" + samples.pdf_bytes(["x"])
    detected = detect_file_type(prefixed, "x.pdf")
    assert detected is not None and detected.format == "pdf"


@pytest.mark.parametrize(
    ("filename", "format", "served"),
    [
        ("x.html", "pdf", "x.pdf"),
        ("教案.PDF", "pdf", "教案.PDF"),
        ("notes", "pdf", "notes.pdf"),
        ("photo.jpeg", "jpeg", "photo.jpeg"),
        ("photo.JPG", "jpeg", "photo.JPG"),
        ("photo.png", "jpeg", "photo.jpg"),
        ("lesson.mp4.html", "mp4", "lesson.mp4.mp4"),
        (".htaccess", "srt", ".htaccess.srt"),
    ],
)
def test_the_served_name_ends_with_the_detected_format(filename: str, format: str, served: str) -> None:
    assert served_filename(filename, format) == served
