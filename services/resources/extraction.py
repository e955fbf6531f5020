"""Reading uploaded resources: video facts and posters, page texts for search, subtitle cues.

Everything here is synchronous and CPU/IO bound; the worker runs it in a thread. Files come from
teachers' machines, so they may be broken, hostile or merely odd: every failure surfaces as an
ExtractionError whose message is fit to show on the resource, never as a library's exception.
"""

from __future__ import annotations

import html
import io
import logging
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import docx
import pptx
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from PIL import Image
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.shapes.group import GroupShape

from services.documents import images, ocr, quality
from services.documents.base import (
    MAX_CHARS_PER_PAGE,
    MAX_PAGES,
    MAX_TOTAL_CHARS,
    ExtractionError,
    PageCollector,
    PageText,
    normalize_text,
)
from services.documents.pdf import pdf_pages

# Moved to services.documents; still reached through this module by its callers.
__all__ = [
    "MAX_CHARS_PER_PAGE",
    "MAX_PAGES",
    "MAX_TOTAL_CHARS",
    "ExtractionError",
    "PageText",
    "normalize_text",
]

logger = logging.getLogger(__name__)

# docProps/app.xml is a few hundred bytes; only its page count is read.
MAX_APP_XML_BYTES = 64 * 1024

# Pictures whose text OCR reads (GIF is left out: animations and clip art, rarely a scan).
IMAGE_FORMATS = frozenset({"png", "jpeg", "webp"})

# DOCX/PPTX are ZIPs whose entries python-docx/pptx decompress whole into memory.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_UNCOMPRESSED_BYTES = 300 * 1024 * 1024
MAX_ZIP_COMPRESSION_RATIO = 100
# Small entries may compress far better than the ratio (XML full of repeated markup) and are harmless.
ZIP_RATIO_CHECK_MIN_BYTES = 1024 * 1024
# python-docx/pptx parse every XML part into a tree, which takes several times the part's size in
# memory: these bound what one document's markup can cost (a 1,000-page report is ~20 MB).
MAX_XML_PART_BYTES = 32 * 1024 * 1024
MAX_XML_TOTAL_BYTES = 64 * 1024 * 1024

POSTER_POSITION = 0.1
POSTER_JPEG_QUALITY = 85
# A seek lands on the keyframe before the target; long GOPs must not make us decode a whole film.
MAX_POSTER_DECODED_FRAMES = 1000


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    # As displayed: sample aspect ratio and rotation (phones record portrait video sideways) applied.
    width: int
    height: int
    video_codec: str
    has_audio: bool


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


@contextmanager
def _failures_reported_as(message: str) -> Iterator[None]:
    """Turns any library failure into an ExtractionError with ``message``.

    The libraries' own messages name temporary paths and internals, so they go to the log only.
    """
    try:
        yield
    except ExtractionError:
        raise
    except Exception as exc:
        logger.info("%s", message, exc_info=True)
        raise ExtractionError(message) from exc


# -- Video ---------------------------------------------------------------------------------------


def probe_video(path: Path) -> VideoInfo:
    with _failures_reported_as("The video could not be read"), _open_video(path) as container:
        stream = _video_stream(container)
        # Decoding one frame proves the stream is playable and carries the rotation.
        frame = _first_frame(container, stream)
        width, height = _display_size(stream, frame)
        return VideoInfo(
            duration_s=_duration(container, stream),
            width=width,
            height=height,
            video_codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )


def video_poster_jpeg(path: Path, *, at_s: float | None = None, max_width: int = 640) -> bytes:
    """A JPEG of the frame at ``at_s`` (default: 10% in), at most ``max_width`` wide, aspect kept."""
    if max_width < 1:
        raise ValueError("max_width must be positive")
    with _failures_reported_as("No poster image could be taken from the video"):
        with _open_video(path) as container:
            stream = _video_stream(container)
            duration = _header_duration(container, stream)
            target = at_s if at_s is not None else (duration or 0.0) * POSTER_POSITION
            if duration is not None:
                target = min(target, duration)
            frame = _frame_near(container, stream, max(target, 0.0))
            if frame is not None:
                return _jpeg(frame, _display_size(stream, frame), max_width)
        # Some files can't seek, or the target lay past the last frame: take the first one.
        with _open_video(path) as container:
            stream = _video_stream(container)
            frame = _first_frame(container, stream)
            return _jpeg(frame, _display_size(stream, frame), max_width)


@contextmanager
def _open_video(path: Path) -> Iterator[InputContainer]:
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:
        raise ExtractionError("The file is not a video that can be read") from exc
    try:
        yield container
    finally:
        container.close()


# FFmpeg reads pictures as one-frame videos; they are not what a video resource is.
_STILL_IMAGE_DEMUXERS = frozenset({"image2", "gif", "apng"})


def _video_stream(container: InputContainer) -> VideoStream:
    demuxer = container.format.name
    if demuxer in _STILL_IMAGE_DEMUXERS or demuxer.endswith("_pipe"):
        raise ExtractionError("The file is a picture, not a video")
    for stream in container.streams.video:
        # Audio files list their cover art as a one-picture video stream.
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise ExtractionError("The file has no video track")


def _first_frame(container: InputContainer, stream: VideoStream) -> VideoFrame:
    for frame in container.decode(stream):
        return frame
    raise ExtractionError("The video track has no picture that can be decoded")


def _header_duration(container: InputContainer, stream: VideoStream) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.duration > 0:
        return float(stream.duration * _time_base(stream))
    return None


def _time_base(stream: VideoStream) -> Fraction:
    if not stream.time_base:
        raise ExtractionError("The video track has no timing information")
    return stream.time_base


def _duration(container: InputContainer, stream: VideoStream) -> float:
    """The header's duration or, when it has none (browser-recorded WebM), the last packet's end."""
    duration = _header_duration(container, stream)
    if duration is not None:
        return duration
    start = stream.start_time or 0
    end = start
    for packet in container.demux(stream):
        if packet.pts is not None:
            end = max(end, packet.pts + (packet.duration or 0))
    return float((end - start) * _time_base(stream)) if end > start else 0.0


def _frame_near(container: InputContainer, stream: VideoStream, target_s: float) -> VideoFrame | None:
    try:
        if target_s > 0:
            offset = (stream.start_time or 0) + int(target_s / _time_base(stream))
            container.seek(offset, stream=stream, backward=True)
        chosen: VideoFrame | None = None
        for count, frame in enumerate(container.decode(stream), start=1):
            chosen = frame
            if frame.time is None or frame.time >= target_s or count >= MAX_POSTER_DECODED_FRAMES:
                break
        return chosen
    except av.FFmpegError:
        logger.info("Seeking to %.2fs failed; using the first frame", target_s, exc_info=True)
        return None


def _display_size(stream: VideoStream, frame: VideoFrame) -> tuple[int, int]:
    ratio = stream.sample_aspect_ratio
    width, height = frame.width, frame.height
    if ratio and ratio > 0 and ratio != 1:
        width = max(1, round(width * ratio))
    if round(frame.rotation) % 180 == 90:
        width, height = height, width
    return width, height


_TRANSPOSE_FOR_ROTATION = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def _jpeg(frame: VideoFrame, display_size: tuple[int, int], max_width: int) -> bytes:
    image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
    # The display matrix gives the counter-clockwise rotation to apply, as PIL's ROTATE_* do.
    transpose = _TRANSPOSE_FOR_ROTATION.get(round(frame.rotation) % 360)
    if transpose is not None:
        image = image.transpose(transpose)
    width, height = display_size
    if width > max_width:
        width, height = max_width, max(1, round(height * max_width / width))
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    image.convert("RGB").save(output, format="JPEG", quality=POSTER_JPEG_QUALITY, optimize=True)
    return output.getvalue()


# -- Page texts ----------------------------------------------------------------------------------


def extract_pages(path: Path, format: str, budget: ocr.OcrBudget | None = None) -> list[PageText]:
    """Text of each page (PDF, DOCX), slide (PPTX) or picture, numbered from 1; pages without text,
    or whose text is garbage (services.documents.quality), are left out.

    Scanned pages, pages with garbage text, pictures and slides' pictures are OCR'd within ``budget``
    (none by default).
    """
    budget = budget or ocr.OcrBudget(enabled=False)
    if format == "pdf":
        return pdf_pages(path, budget)
    if format in IMAGE_FORMATS:
        return images.image_pages(path, budget)
    if format == "docx":
        _check_zip(path)
        with _failures_reported_as("The Word document could not be read"):
            return _docx_pages(docx.Document(str(path)), _page_count_hint(path))
    if format == "pptx":
        _check_zip(path)
        with _failures_reported_as("The PowerPoint presentation could not be read"):
            return _pptx_pages(pptx.Presentation(str(path)), budget)
    raise ExtractionError(f"Text can't be extracted from {format} files")


def _check_zip(path: Path) -> None:
    """Refuses DOCX/PPTX files that are not ZIPs or would decompress into something enormous.

    python-docx/pptx read whole entries into memory; zipfile stops at the sizes the central
    directory states, so checking those bounds what they can cost.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except Exception as exc:
        raise ExtractionError("The file is damaged or not an Office document") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ExtractionError("The document has too many parts to be read")
    markup = [entry for entry in entries if entry.filename.lower().endswith((".xml", ".rels"))]
    if any(entry.file_size > MAX_XML_PART_BYTES for entry in markup) or (
        sum(entry.file_size for entry in markup) > MAX_XML_TOTAL_BYTES
    ):
        raise ExtractionError(
            f"The document's text is too large to be read (over {MAX_XML_PART_BYTES // 2**20} MB of "
            f"markup in one part, or {MAX_XML_TOTAL_BYTES // 2**20} MB in all)"
        )
    if sum(entry.file_size for entry in entries) > MAX_ZIP_UNCOMPRESSED_BYTES:
        raise ExtractionError("The document is too large once uncompressed")
    for entry in entries:
        if entry.file_size > ZIP_RATIO_CHECK_MIN_BYTES and (
            entry.file_size > entry.compress_size * MAX_ZIP_COMPRESSION_RATIO
        ):
            raise ExtractionError("The document contains a suspiciously compressed part and was refused")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


class _DocxPageWalker:
    """Walks a DOCX body in document order and splits its text into pages.

    DOCX stores no pages. The page boundaries known without laying the document out are explicit
    page breaks, and the lastRenderedPageBreak marks Word leaves where it last laid pages out.
    """

    def __init__(self, section_starts_page: list[bool], comments: dict[str, str]) -> None:
        self.collector = PageCollector()
        # Per section (in order), whether it starts on a new page; see _section_starts.
        self._section_starts_page = section_starts_page
        self._section = 0
        # Comment texts by id, indexed where their reference stands.
        self._comments = comments
        self.breaks = 0
        self._number = 1
        self._parts: list[str] = []
        self._has_text = False
        # The document starts on a fresh page, as if an explicit break came before it.
        self._after_explicit_break = True
        # None outside table rows; inside one, whether a rendered break was taken for this row.
        self._row_break_taken: bool | None = None

    def walk(self, element: Any) -> None:
        for child in element:
            if self.collector.full:
                return
            tag = child.tag
            if not isinstance(tag, str) or tag == _MC_FALLBACK or tag == f"{_W}sectPr":
                # Comments and processing instructions; Fallback repeats the Choice's text boxes.
                continue
            if tag == f"{_W}t":
                self._text(child.text or "")
            elif tag == f"{_W}tab":
                self._parts.append("\t")
            elif tag in (f"{_W}cr", f"{_W}br"):
                if child.get(f"{_W}type") == "page":
                    self._break(explicit=True)
                else:
                    self._parts.append("\n")
            elif tag == f"{_W}lastRenderedPageBreak":
                self._break(explicit=False)
            elif tag == f"{_W}p":
                if _starts_on_new_page(child):
                    self._break(explicit=True)
                self.walk(child)
                self._parts.append("\n")
                if _ends_section(child):
                    # WPS marks pages only this way: section breaks, no rendered page breaks.
                    self._section += 1
                    if (
                        self._section < len(self._section_starts_page)
                        and (self._section_starts_page[self._section])
                    ):
                        self._break(explicit=True)
            elif tag == f"{_W}commentReference":
                comment = self._comments.get(child.get(f"{_W}id", ""))
                if comment:
                    self._parts.append(f"\n{comment}\n")
            elif tag == f"{_W}tr":
                outer = self._row_break_taken
                self._row_break_taken = False
                self.walk(child)
                self._row_break_taken = outer
            else:
                self.walk(child)

    def finish(self) -> list[PageText]:
        self._flush()
        return self.collector.pages

    def _text(self, text: str) -> None:
        self._parts.append(text)
        self._has_text = self._has_text or bool(text.strip())

    def _break(self, *, explicit: bool) -> None:
        if not explicit:
            # Word marks the start of the page an explicit break already began.
            if self._after_explicit_break and not self._has_text:
                return
            # A row that begins a page carries the mark in every cell.
            if self._row_break_taken:
                return
            if self._row_break_taken is not None:
                self._row_break_taken = True
        self._flush()
        self._number += 1
        self.breaks += 1
        self._after_explicit_break = explicit

    def _flush(self) -> None:
        self.collector.add(self._number, "".join(self._parts))
        self._parts = []
        self._has_text = False


def _starts_on_new_page(paragraph: Any) -> bool:
    properties = paragraph.find(f"{_W}pPr")
    flag = properties.find(f"{_W}pageBreakBefore") if properties is not None else None
    return flag is not None and flag.get(f"{_W}val", "true") not in ("false", "0", "off")


def _ends_section(paragraph: Any) -> bool:
    properties = paragraph.find(f"{_W}pPr")
    return properties is not None and properties.find(f"{_W}sectPr") is not None


# Section types that start on a new page; a section without a type starts on the next page.
_PAGE_STARTING_SECTIONS = frozenset({"nextPage", "oddPage", "evenPage"})


def _section_starts(body: Any) -> list[bool]:
    """For each section in order, whether it starts on a new page.

    A section's properties (w:sectPr) close it: in its last paragraph, or for the last section at
    the end of the body. Their w:type says how the section they close began.
    """
    starts = []
    for properties in body.iter(f"{_W}sectPr"):
        kind = properties.find(f"{_W}type")
        value = kind.get(f"{_W}val") if kind is not None else None
        starts.append(value is None or value in _PAGE_STARTING_SECTIONS)
    return starts


_COMMENTS_RELATIONSHIP = RT.COMMENTS
_HEADER_FOOTER_RELATIONSHIPS = frozenset({RT.HEADER, RT.FOOTER})


def _xml_text(element: Any) -> str:
    paragraphs = []
    for paragraph in element.iter(f"{_W}p"):
        text = "".join(node.text or "" for node in paragraph.iter(f"{_W}t"))
        if text.strip():
            paragraphs.append(text)
    return "\n".join(paragraphs)


def _related_parts(document: Any, kinds: frozenset[str]) -> list[Any]:
    parts = [
        rel.target_part for rel in document.part.rels.values() if not rel.is_external and rel.reltype in kinds
    ]
    return [parse_xml(part.blob) for part in parts]


def _comments(document: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in _related_parts(document, frozenset({_COMMENTS_RELATIONSHIP})):
        for comment in part.iter(f"{_W}comment"):
            text = _xml_text(comment)
            if text:
                found[comment.get(f"{_W}id", "")] = text
    return found


def _headers_and_footers(document: Any) -> str:
    """The distinct texts of the headers and footers (school name, subject, exam title …)."""
    texts = [_xml_text(part) for part in _related_parts(document, _HEADER_FOOTER_RELATIONSHIPS)]
    return "\n".join(dict.fromkeys(text for text in texts if text))


def _page_count_hint(path: Path) -> int | None:
    """The page count Word or WPS saved in docProps/app.xml when it last laid the document out."""
    try:
        with zipfile.ZipFile(path) as archive:
            app = archive.read("docProps/app.xml")[:MAX_APP_XML_BYTES]
    except (KeyError, zipfile.BadZipFile, OSError):
        return None
    match = re.search(rb"<(?:\w+:)?Pages>\s*(\d{1,5})\s*</", app)
    return int(match.group(1)) if match else None


def _docx_pages(document: Any, page_count_hint: int | None = None) -> list[PageText]:
    body = document.element.body
    walker = _DocxPageWalker(_section_starts(body), _comments(document))
    walker.walk(body)
    pages = walker.finish()
    if walker.breaks == 0 and page_count_hint and page_count_hint > 1 and len(pages) == 1:
        pages = _spread(pages[0].text, page_count_hint)
    extra = _headers_and_footers(document)
    if extra:
        first = pages[0] if pages and pages[0].number == 1 else PageText(1, "")
        rest = pages[1:] if pages and pages[0].number == 1 else pages
        collector = PageCollector()
        collector.add(1, f"{extra}\n{first.text}")
        pages = collector.pages + rest
    return pages


def _spread(text: str, page_count: int) -> list[PageText]:
    """Paragraphs laid out over ``page_count`` pages in proportion to their length: where a document
    has no page marks at all, the saved page count still places a hit near its page."""
    paragraphs = text.split("\n")
    total = sum(len(paragraph) for paragraph in paragraphs) or 1
    by_page: dict[int, list[str]] = {}
    seen = 0
    for paragraph in paragraphs:
        number = min(page_count, seen * page_count // total + 1)
        by_page.setdefault(number, []).append(paragraph)
        seen += len(paragraph)
    collector = PageCollector()
    for number, lines in by_page.items():
        collector.add(number, "\n".join(lines))
    return collector.pages


def _pptx_pages(presentation: Any, budget: ocr.OcrBudget) -> list[PageText]:
    """Each slide's text: its shapes, tables and notes, and (by OCR, within ``budget``) its pictures,
    where teachers paste screenshots of textbook pages and exercises."""
    collector = PageCollector()
    for number, slide in enumerate(presentation.slides, start=1):
        parts: list[str] = []
        pictures: list[bytes] = []
        for shape in slide.shapes:
            _collect_shape_text(shape, parts, pictures)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None:
                parts.append(notes.text)
        recognised = [found for blob in pictures if (found := images.picture_text(blob, budget)) is not None]
        if recognised:
            weight = sum(found.chars for found in recognised) or 1
            confidence = sum(found.chars * found.confidence for found in recognised) / weight
            parts.extend(found.text for found in recognised)
            collector.add(number, "\n".join(parts), "ocr", round(confidence, 3))
        else:
            collector.add(number, "\n".join(parts))
        if collector.full:
            break
    return collector.pages


def _collect_shape_text(shape: Any, parts: list[str], pictures: list[bytes]) -> None:
    if isinstance(shape, GroupShape):
        for member in shape.shapes:
            _collect_shape_text(member, parts, pictures)
    elif shape.has_text_frame:
        parts.append(shape.text_frame.text)
    elif shape.has_table:
        parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
    elif shape.shape_type == MSO_SHAPE_TYPE.PICTURE or hasattr(shape, "image"):
        try:
            pictures.append(shape.image.blob)
        except Exception:
            # A linked picture (its file is not in the presentation) or a placeholder left empty.
            logger.info("A slide picture could not be read", exc_info=True)


# -- Subtitles -----------------------------------------------------------------------------------

_TIMESTAMP = r"(?:(\d+):)?([0-5]?\d):([0-5]\d)[,.](\d{1,3})"
_TIMING_LINE = re.compile(rf"\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s.*)?")
_VTT_SKIPPED_BLOCK = re.compile(r"(NOTE|STYLE|REGION)(\s|$)")
# HTML-like tags (<i>, <c.yellow>, <v Speaker>, <00:01.000>) and ASS overrides ({\an8}).
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")


def parse_subtitles(data: bytes) -> list[Cue]:
    """Cues of an SRT or WebVTT file, sorted by start; cues that make no sense are left out."""
    text = _decode_subtitles(data)
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    cues: list[Cue] = []
    for index, block in enumerate(blocks):
        lines = block.strip("\n").split("\n")
        if index == 0 and lines[0].startswith("WEBVTT"):
            lines = lines[1:]
        elif _VTT_SKIPPED_BLOCK.match(lines[0]):
            continue
        cues.extend(_block_cues(lines))
    if not cues:
        raise ExtractionError("No subtitle cues were found in the file")
    return sorted(cues, key=lambda cue: (cue.start_s, cue.end_s))


_SUBTITLE_ENCODINGS_MESSAGE = (
    "The subtitle file's text encoding is not one Jiaoyun reads (UTF-8, GB18030/GBK, Big5, or UTF-16 "
    "with a byte order mark): save it as UTF-8"
)


def _decode_subtitles(data: bytes) -> str:
    """The file's text: a byte order mark decides; else UTF-8; else the legacy Chinese encoding
    (GB18030 or Big5) whose reading is plausible text (Big5 bytes decode as GB18030 too, as noise)."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise ExtractionError(_SUBTITLE_ENCODINGS_MESSAGE) from exc
    if b"\x00" in data:
        raise ExtractionError(_SUBTITLE_ENCODINGS_MESSAGE)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    readings = []
    for encoding in ("gb18030", "big5"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        readings.append((quality.assess(_MARKUP.sub("", text)).score, text))
    plausible = [(score, text) for score, text in readings if score <= quality.GARBAGE_THRESHOLD]
    if not plausible:
        raise ExtractionError(_SUBTITLE_ENCODINGS_MESSAGE)
    # The first of equals: GB18030 (the mainland's) before Big5.
    return min(plausible, key=lambda reading: reading[0])[1]


def _block_cues(lines: list[str]) -> Iterator[Cue]:
    """Cues of one blank-line separated block; several if a file forgot the blank lines.

    A timing line starts a cue, and the line before it is the cue's number or identifier.
    """
    timings = [i for i, line in enumerate(lines) if "-->" in line]
    for position, timing in enumerate(timings):
        text_end = timings[position + 1] - 1 if position + 1 < len(timings) else len(lines)
        match = _TIMING_LINE.fullmatch(lines[timing])
        if match is None:
            continue
        start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
        text = _cue_text(lines[timing + 1 : text_end])
        if end > start and text:
            yield Cue(start_s=start, end_s=end, text=text)


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction}")


def _cue_text(lines: list[str]) -> str:
    # Entities are decoded after tags are gone, so an escaped "&lt;b&gt;" stays text.
    stripped = (html.unescape(_MARKUP.sub("", line)) for line in lines)
    return " ".join(" ".join(line.split()) for line in stripped if line.strip())
