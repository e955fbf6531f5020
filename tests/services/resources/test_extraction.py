"""Extraction from real files: video facts and posters, page texts, subtitle cues, and refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pptx
import pypdf
import pytest
from docx.document import Document as WordDocument
from docx.enum.section import WD_SECTION
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.xmlchemy import BaseOxmlElement
from PIL import Image
from pptx.presentation import Presentation
from pptx.util import Inches

from services.documents import base as documents_base
from services.resources import extraction
from services.resources.extraction import (
    Cue,
    ExtractionError,
    PageText,
    extract_pages,
    parse_subtitles,
    probe_video,
    video_poster_jpeg,
)
from tests import samples, stalling


@pytest.fixture
def write(tmp_path: Path) -> _Writer:
    return _Writer(tmp_path)


class _Writer:
    """Puts bytes in a file, as the worker does with a blob before handing its path over."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def __call__(self, data: bytes, suffix: str = "") -> Path:
        self.count += 1
        path = self.directory / f"file{self.count}{suffix}"
        path.write_bytes(data)
        return path


def docx_file_bytes(document: WordDocument) -> bytes:
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def pptx_file_bytes(presentation: Presentation) -> bytes:
    output = io.BytesIO()
    presentation.save(output)
    return output.getvalue()


def with_zip_entry(package: bytes, name: str, data: bytes) -> bytes:
    output = io.BytesIO(package)
    with zipfile.ZipFile(output, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return output.getvalue()


def rendered_page_break() -> BaseOxmlElement:
    return OxmlElement("w:lastRenderedPageBreak")


# -- video ---------------------------------------------------------------------------------------


def test_probe_reports_duration_size_codec_and_no_sound(write: _Writer) -> None:
    info = probe_video(write(samples.mp4_bytes()))

    assert info.duration_s == pytest.approx(2.0, abs=0.3)
    assert (info.width, info.height) == (320, 240)
    assert info.video_codec in {"h264", "mpeg4"}
    assert info.has_audio is False


def test_probe_follows_the_file_not_the_defaults(write: _Writer) -> None:
    info = probe_video(write(samples.mp4_bytes(duration_s=3.5, width=160, height=96, fps=12)))

    assert info.duration_s == pytest.approx(3.5, abs=0.3)
    assert (info.width, info.height) == (160, 96)


@pytest.mark.parametrize(("container", "codecs"), [("mov", {"h264", "mpeg4"}), ("webm", {"vp8"})])
def test_probe_other_containers_with_sound(write: _Writer, container: str, codecs: set[str]) -> None:
    info = probe_video(write(samples.video_bytes(container, with_audio=True)))

    assert info.duration_s == pytest.approx(2.0, abs=0.3)
    assert info.video_codec in codecs
    assert info.has_audio is True


def test_probe_reports_a_phone_video_recorded_sideways_as_portrait(write: _Writer) -> None:
    info = probe_video(write(samples.video_bytes(rotation=90)))

    assert (info.width, info.height) == (240, 320)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a video"),
        (b"this is a lesson plan, not a video\n" * 50, "not a video"),
        (samples.png_bytes(64, 64), "picture"),
        (samples.jpeg_bytes(64, 64), "picture"),
        (samples.mp4_bytes()[:1500], "not a video"),
        (samples.m4a_bytes(), "no video track"),
    ],
    ids=["empty", "text", "png", "jpeg", "truncated-mp4", "audio-only"],
)
def test_probe_refuses_what_is_not_a_playable_video(write: _Writer, data: bytes, message: str) -> None:
    with pytest.raises(ExtractionError, match=message):
        probe_video(write(data))


def test_poster_is_a_jpeg_scaled_to_max_width_keeping_the_aspect_ratio(write: _Writer) -> None:
    poster = video_poster_jpeg(write(samples.mp4_bytes()), max_width=100)

    image = Image.open(io.BytesIO(poster))
    assert image.format == "JPEG"
    assert image.size == (100, 75)
    image.verify()


def test_poster_is_never_enlarged(write: _Writer) -> None:
    poster = video_poster_jpeg(write(samples.mp4_bytes()))

    assert Image.open(io.BytesIO(poster)).size == (320, 240)


@pytest.mark.parametrize("at_s", [0.0, 1.5, 60.0, -3.0])
def test_poster_at_any_requested_time_even_past_the_end(write: _Writer, at_s: float) -> None:
    poster = video_poster_jpeg(write(samples.video_bytes("webm")), at_s=at_s, max_width=64)

    image = Image.open(io.BytesIO(poster))
    assert image.format == "JPEG"
    assert image.width <= 64


def test_poster_of_a_sideways_recording_is_upright(write: _Writer) -> None:
    # Stored landscape with the top half red, displayed turned 90° counter-clockwise: the red
    # half ends up on the left of a portrait picture.
    poster = Image.open(io.BytesIO(video_poster_jpeg(write(samples.video_bytes(rotation=90)))))

    assert poster.size == (240, 320)
    left = poster.convert("RGB").getpixel((20, 300))
    right = poster.convert("RGB").getpixel((220, 300))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 150 and left[2] < 100, left
    assert right[2] > 150 and right[0] < 100, right


def test_poster_of_a_non_video_is_an_extraction_error(write: _Writer) -> None:
    with pytest.raises(ExtractionError):
        video_poster_jpeg(write(samples.pdf_bytes(["不是视频"])))


def test_poster_width_must_be_positive(write: _Writer) -> None:
    with pytest.raises(ValueError, match="max_width"):
        video_poster_jpeg(write(samples.mp4_bytes()), max_width=0)


# -- PDF -----------------------------------------------------------------------------------------


def test_pdf_chinese_text_per_page(write: _Writer) -> None:
    pages = [
        "第一课 勾股定理\n直角三角形两直角边的平方和等于斜边的平方。",
        "第二课：光合作用",
        "练习 3.14 abc",
    ]

    extracted = extract_pages(write(samples.pdf_bytes(pages)), "pdf")

    assert extracted == [
        PageText(1, "第一课 勾股定理\n直角三角形两直角边的平方和等于斜边的平方。"),
        PageText(2, "第二课：光合作用"),
        PageText(3, "练习 3.14 abc"),
    ]


def test_pdf_pages_without_text_are_left_out_and_numbers_kept(write: _Writer) -> None:
    extracted = extract_pages(write(samples.pdf_bytes(["封面", "", "正文"])), "pdf")

    assert extracted == [PageText(1, "封面"), PageText(3, "正文")]


def test_pdf_kangxi_radicals_become_the_characters_people_search_for(write: _Writer) -> None:
    # ⽇⽉⼭⽔ are Kangxi radicals (U+2F47 U+2F49 U+2F2D U+2F54), which some PDF producers emit
    # for 日月山水.
    extracted = extract_pages(write(samples.pdf_bytes(["⽇⽉⼭⽔"])), "pdf")

    assert extracted == [PageText(1, "日月山水")]


def encrypted(data: bytes, *, user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_pdf_needing_a_password_to_open_is_refused(write: _Writer) -> None:
    data = encrypted(samples.pdf_bytes(["机密"]), user_password="secret")

    with pytest.raises(ExtractionError, match="password"):
        extract_pages(write(data), "pdf")


def test_pdf_with_only_permission_restrictions_is_read(write: _Writer) -> None:
    data = encrypted(samples.pdf_bytes(["禁止复制的教案"]), user_password="")

    assert extract_pages(write(data), "pdf") == [PageText(1, "禁止复制的教案")]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7\nnot really\n",
        samples.pdf_bytes(["第一页", "第二页"])[:300],
        samples.png_bytes(),
    ],
    ids=["empty", "header-only", "truncated", "png"],
)
def test_pdf_damaged_or_not_a_pdf(write: _Writer, data: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_pages(write(data), "pdf")


# -- DOCX ----------------------------------------------------------------------------------------


def test_docx_pages_split_at_page_breaks_with_headings_paragraphs_and_tables(write: _Writer) -> None:
    document = docx.Document()
    document.add_heading("《静夜思》教学设计", level=1)
    document.add_paragraph("教学目标：理解诗意。")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("环节", "时间"), ("导入", "5 分钟")], strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("表格之后的段落")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph("板书设计")

    extracted = extract_pages(write(docx_file_bytes(document)), "docx")

    assert [page.number for page in extracted] == [1, 2, 3]
    assert extracted[0].text == "《静夜思》教学设计\n教学目标：理解诗意。"
    assert extracted[1].text == "环节\n时间\n导入\n5 分钟\n表格之后的段落"
    assert extracted[2].text == "板书设计"


def test_docx_sample_has_one_page_per_string_and_empty_pages_keep_numbers(write: _Writer) -> None:
    extracted = extract_pages(write(samples.docx_bytes(["第一页", "", "第三页\n第二段"])), "docx")

    assert extracted == [PageText(1, "第一页"), PageText(3, "第三页\n第二段")]


def test_docx_page_boundaries_word_rendered_count_once(write: _Writer) -> None:
    document = docx.Document()
    document.add_paragraph("第一页")
    # Word writes where it last laid out a page; right after a hard break that is the same page.
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    after_hard_break = document.add_paragraph()
    after_hard_break.add_run()._r.append(rendered_page_break())
    after_hard_break.add_run("第二页")
    # A page that ended because it was full: only the rendered mark shows it.
    flowed = document.add_paragraph("第二页的末尾")
    flowed.add_run()._r.append(rendered_page_break())
    flowed.add_run("第三页")
    # A table row starting a page carries the mark in every cell.
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["甲", "乙", "丙"], strict=True):
        cell.paragraphs[0].add_run()._r.append(rendered_page_break())
        cell.paragraphs[0].add_run(text)
    heading = document.add_paragraph("第五页")
    heading.paragraph_format.page_break_before = True

    extracted = extract_pages(write(docx_file_bytes(document)), "docx")

    assert extracted == [
        PageText(1, "第一页"),
        PageText(2, "第二页\n第二页的末尾"),
        PageText(3, "第三页"),
        PageText(4, "甲\n乙\n丙"),
        PageText(5, "第五页"),
    ]


def _saved(document: WordDocument) -> bytes:
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def test_docx_section_breaks_headers_footers_and_comments(write: _Writer) -> None:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "实验小学 三年级语文"
    document.sections[0].footer.paragraphs[0].text = "第一学期 期末复习"
    commented = document.add_paragraph("第一节 古诗两首")
    document.add_comment(commented.runs, text="这里补充背诵要求", author="王老师")
    document.add_section(WD_SECTION.NEW_PAGE)
    document.add_paragraph("第二节 秋天的雨")
    document.add_section(WD_SECTION.CONTINUOUS)
    document.add_paragraph("同一页上的连续节")
    document.add_section(WD_SECTION.ODD_PAGE)
    document.add_paragraph("第三节 习作")

    assert extract_pages(write(_saved(document)), "docx") == [
        PageText(1, "实验小学 三年级语文\n第一学期 期末复习\n第一节 古诗两首\n这里补充背诵要求"),
        PageText(2, "第二节 秋天的雨\n同一页上的连续节"),
        PageText(3, "第三节 习作"),
    ]


def test_docx_without_page_marks_is_spread_over_the_saved_page_count(write: _Writer) -> None:
    document = docx.Document()
    for number in range(1, 7):
        document.add_paragraph(f"第{number}段" + "文字" * 50)
    original = _saved(document)
    output = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as source, zipfile.ZipFile(output, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "docProps/app.xml":
                data = (
                    b'<?xml version="1.0"?><Properties xmlns="http://schemas.openxmlformats.org/'
                    b'officeDocument/2006/extended-properties"><Pages>3</Pages></Properties>'
                )
            target.writestr(entry, data)

    pages = extract_pages(write(output.getvalue()), "docx")

    assert [(page.number, [line[:3] for line in page.text.split("\n")]) for page in pages] == [
        (1, ["第1段", "第2段"]),
        (2, ["第3段", "第4段"]),
        (3, ["第5段", "第6段"]),
    ]


def test_docx_long_pages_are_truncated(write: _Writer) -> None:
    extracted = extract_pages(write(samples.docx_bytes(["字" * 25_000, "短"])), "docx")

    assert [len(page.text) for page in extracted] == [extraction.MAX_CHARS_PER_PAGE, 1]


def test_docx_pages_and_characters_are_bounded(write: _Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(samples.docx_bytes(["一二三", "四五六", "七八九"]))

    # The bounds live with the page collector every reader shares.
    monkeypatch.setattr(documents_base, "MAX_PAGES", 2)
    assert [page.number for page in extract_pages(path, "docx")] == [1, 2]

    monkeypatch.setattr(documents_base, "MAX_PAGES", 2000)
    monkeypatch.setattr(documents_base, "MAX_TOTAL_CHARS", 5)
    assert extract_pages(path, "docx") == [PageText(1, "一二三"), PageText(2, "四五")]


def test_docx_zip_bomb_is_refused_before_it_is_opened(write: _Writer) -> None:
    # 50 MB of zeros deflate to about 50 KB: harmless to upload, ruinous to open.
    bomb = with_zip_entry(samples.docx_bytes(["正常内容"]), "word/media/image1.bin", bytes(50 * 1024 * 1024))
    assert len(bomb) < 200_000

    with pytest.raises(ExtractionError, match="suspiciously compressed"):
        extract_pages(write(bomb), "docx")


def test_docx_too_large_once_uncompressed(write: _Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MAX_ZIP_UNCOMPRESSED_BYTES", 20_000)

    with pytest.raises(ExtractionError, match="too large"):
        extract_pages(write(samples.docx_bytes(["内容" * 10_000])), "docx")


def test_office_markup_is_bounded_before_it_is_parsed(
    write: _Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-docx/pptx parse each XML part into a tree several times its size: parts and their sum
    are bounded (here scaled down: the real bounds are 32 and 64 MB)."""
    monkeypatch.setattr(extraction, "MAX_XML_PART_BYTES", 1024 * 1024)
    monkeypatch.setattr(extraction, "MAX_XML_TOTAL_BYTES", 3 * 1024 * 1024)
    big_body = stalling.stalling_docx(elements=200_000)
    with pytest.raises(ExtractionError, match="text is too large to be read"):
        extract_pages(write(big_body), "docx")
    monkeypatch.setattr(extraction, "MAX_XML_PART_BYTES", 2 * 1024 * 1024)
    assert extract_pages(write(big_body), "docx") == [PageText(1, "空")]

    monkeypatch.setattr(extraction, "MAX_XML_TOTAL_BYTES", 650_000)  # its largest part has 620 kB
    with pytest.raises(ExtractionError, match="text is too large to be read"):
        extract_pages(write(stalling.stalling_pptx(slides=2, runs=10_000)), "pptx")


def test_docx_with_too_many_parts(write: _Writer) -> None:
    output = io.BytesIO(samples.docx_bytes(["正常内容"]))
    with zipfile.ZipFile(output, "a") as archive:
        for number in range(extraction.MAX_ZIP_ENTRIES):
            archive.writestr(f"customXml/extra{number}.xml", b"")

    with pytest.raises(ExtractionError, match="too many parts"):
        extract_pages(write(output.getvalue()), "docx")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        samples.pdf_bytes(["不是 Word"]),
        samples.docx_bytes(["第一页", "第二页"])[:2000],
        samples.pptx_bytes(["幻灯片"]),
        b"plain text, not a zip\n",
    ],
    ids=["empty", "pdf", "truncated", "pptx", "text"],
)
def test_docx_damaged_or_not_a_word_document(write: _Writer, data: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_pages(write(data), "docx")


def test_zip_without_a_word_document_inside(write: _Writer) -> None:
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as archive:
        archive.writestr("readme.txt", "hello")

    with pytest.raises(ExtractionError, match="Word document could not be read"):
        extract_pages(write(output.getvalue()), "docx")


# -- PPTX ----------------------------------------------------------------------------------------


def test_pptx_one_page_per_slide_with_speaker_notes(write: _Writer) -> None:
    data = samples.pptx_bytes(["第一张：导入", "第二张：新授", "第三张：小结"], ["先提问", "", "布置作业"])

    extracted = extract_pages(write(data), "pptx")

    assert extracted == [
        PageText(1, "第一张：导入\n先提问"),
        PageText(2, "第二张：新授"),
        PageText(3, "第三张：小结\n布置作业"),
    ]


def test_pptx_groups_tables_and_empty_slides(write: _Writer) -> None:
    presentation = pptx.Presentation()
    blank = presentation.slide_layouts[6]
    presentation.slides.add_slide(blank)
    slide = presentation.slides.add_slide(blank)
    group = slide.shapes.add_group_shape()
    group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1)).text_frame.text = "组合里的文字"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(Inches(1), Inches(2), Inches(3), Inches(1)).text_frame.text = "嵌套组合"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(6), Inches(2)).table
    for (row, column), text in {(0, 0): "姓名", (0, 1): "得分", (1, 0): "小明", (1, 1): "95"}.items():
        table.cell(row, column).text = text
    title_slide = presentation.slides.add_slide(presentation.slide_layouts[0])
    assert title_slide.shapes.title is not None
    title_slide.shapes.title.text = "标题  占位符\n第二行"

    extracted = extract_pages(write(pptx_file_bytes(presentation)), "pptx")

    assert extracted == [
        PageText(2, "组合里的文字\n嵌套组合\n姓名\n得分\n小明\n95"),
        PageText(3, "标题 占位符\n第二行"),
    ]


@pytest.mark.parametrize(
    "data",
    [b"", samples.docx_bytes(["Word"]), samples.pptx_bytes(["a", "b"])[:3000]],
    ids=["empty", "docx", "truncated"],
)
def test_pptx_damaged_or_not_a_presentation(write: _Writer, data: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_pages(write(data), "pptx")


def test_pptx_zip_bomb_is_refused(write: _Writer) -> None:
    bomb = with_zip_entry(samples.pptx_bytes(["正常"]), "ppt/media/video1.bin", bytes(20 * 1024 * 1024))

    with pytest.raises(ExtractionError, match="suspiciously compressed"):
        extract_pages(write(bomb), "pptx")


def test_formats_without_text_extraction(write: _Writer) -> None:
    with pytest.raises(ExtractionError, match="doc"):
        extract_pages(write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), "doc")


# -- subtitles -----------------------------------------------------------------------------------


def test_srt_cues() -> None:
    cues = parse_subtitles(samples.srt_bytes([(1.0, 2.5, "同学们好"), (3.25, 3601.0, "请翻开课本")]))

    assert cues == [Cue(1.0, 2.5, "同学们好"), Cue(3.25, 3601.0, "请翻开课本")]


def test_srt_in_gbk_with_crlf_and_byte_order_mark_variants() -> None:
    text = (
        "1\r\n00:00:01,000 --> 00:00:02,000\r\n老师：上课！\r\n\r\n"
        "2\r\n00:00:02,500 --> 00:00:04,000\r\n起立\r\n"
    )

    assert parse_subtitles(text.encode("gbk")) == [Cue(1.0, 2.0, "老师：上课！"), Cue(2.5, 4.0, "起立")]
    assert parse_subtitles(b"\xef\xbb\xbf" + text.encode()) == parse_subtitles(text.encode("gbk"))


@pytest.mark.parametrize("encoding", ["big5", "gb18030", "utf-16", "utf-8-sig"])
def test_srt_without_numbers_in_legacy_and_unicode_encodings(encoding: str) -> None:
    text = "00:00:01,000 --> 00:00:02,000\n小蝌蚪找媽媽\n\n00:00:03,000 --> 00:00:04,000\n青蛙的成長過程\n"

    assert parse_subtitles(text.encode(encoding)) == [
        Cue(1.0, 2.0, "小蝌蚪找媽媽"),
        Cue(3.0, 4.0, "青蛙的成長過程"),
    ]


@pytest.mark.parametrize(
    "data", ["00:00:01,000 --> 00:00:02,000\n同学们好\n".encode("utf-16-le"), b"\x81\x30"]
)
def test_subtitles_in_encodings_we_do_not_read_say_so(data: bytes) -> None:
    with pytest.raises(ExtractionError, match="encoding"):
        parse_subtitles(data)


def test_srt_markup_multi_line_text_and_missing_blank_lines() -> None:
    text = (
        "1\n00:00:01,000 --> 00:00:02,000 X1:100 X2:200 Y1:10 Y2:20\n{\\an8}<i>第一行</i>\n"
        '<font color="#ffff00">第二行</font>\n'
        "2\n00:00:03,000 --> 00:00:04,000\n没有空行分隔\n"
    )

    assert parse_subtitles(text.encode()) == [Cue(1.0, 2.0, "第一行 第二行"), Cue(3.0, 4.0, "没有空行分隔")]


def test_vtt_settings_tags_notes_styles_regions_and_short_timestamps() -> None:
    text = """WEBVTT - 数学课
Kind: captions
Language: zh-CN

NOTE 这条注释
跨两行 00:00:01.000 --> 00:00:02.000

STYLE
::cue { color: yellow }

REGION
id:fred width:40%

intro
00:01.000 --> 00:02.500 align:start position:10% line:0
<v 王老师>同学们，<c.yellow>今天</c>我们学习</v>
<b>分数</b> &amp; 小数

00:00:03.000 --> 00:00:04.000
<00:00:03.500>逐字<00:00:03.800>显示

NOTE
最后的注释
"""

    assert parse_subtitles(text.encode()) == [
        Cue(1.0, 2.5, "同学们，今天我们学习 分数 & 小数"),
        Cue(3.0, 4.0, "逐字显示"),
    ]


def test_broken_cues_are_skipped_and_the_rest_sorted_by_start() -> None:
    text = """1
00:00:05,000 --> 00:00:06,000
第三句

2
00:00:02,000 --> 00:00:01,000
结束早于开始

3
00:00:03,000 --> 00:00:03,000
零长度

4
00:00:xx,000 --> 00:00:09,000
时间坏了

5
00:00:61,000 --> 00:01:02,000
秒数越界

6
00:00:01,000 --> 00:00:02,000
第一句

7
00:00:01,500 --> 00:00:02,000
<i></i>

8
00:00:03,500 --> 00:00:04,000
第二句
"""

    assert [cue.text for cue in parse_subtitles(text.encode())] == ["第一句", "第二句", "第三句"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"WEBVTT\n\n",
        "这不是字幕文件，只是一段话。\n".encode(),
        b"1\n00:00:02,000 --> 00:00:01,000\nbackwards\n",
        b"\xff\xfe\x00\x00binary\x80\x81",
        samples.png_bytes(),
    ],
    ids=["empty", "header-only", "prose", "only-broken-cues", "binary", "png"],
)
def test_files_without_any_cue_are_an_extraction_error(data: bytes) -> None:
    with pytest.raises(ExtractionError):
        parse_subtitles(data)
