"""Real, tiny sample files, made by the same kind of tools teachers' files come from.

Tests get genuine containers (H.264 in MP4, a CID-font PDF, python-docx/pptx packages) rather than
hand-written byte strings, so detection and extraction are tried against what they will meet.
Results are cached: encoding video takes a noticeable fraction of a second.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

import av
import docx
import pptx
from av.audio.stream import AudioStream
from av.codec.codec import Codec
from av.video.stream import VideoStream
from docx.enum.text import WD_BREAK
from PIL import Image, ImageDraw
from pptx.util import Inches
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

# One of the Adobe Asian fonts every PDF reader knows, so reportlab needs no font file: the PDF
# names the font without embedding it and encodes text as UCS-2, which pypdf maps back to Unicode.
CHINESE_PDF_FONT = "STSong-Light"
# Top half of each video frame; the bottom half is VIDEO_BOTTOM_COLOUR. Lets tests see orientation.
VIDEO_TOP_COLOUR = (220, 30, 30)
VIDEO_BOTTOM_COLOUR = (30, 30, 220)


def mp4_bytes(duration_s: float = 2.0, width: int = 320, height: int = 240, fps: int = 10) -> bytes:
    """H.264 (MPEG-4 Part 2 where PyAV lacks an H.264 encoder) in MP4, without sound."""
    return video_bytes("mp4", duration_s=duration_s, width=width, height=height, fps=fps)


@functools.lru_cache(maxsize=32)
def video_bytes(
    container_format: str = "mp4",
    *,
    duration_s: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: int = 10,
    with_audio: bool = False,
    rotation: int = 0,
    codec: str | None = None,
) -> bytes:
    """A video in an "mp4", "mov", "webm" or "matroska" container.

    ``rotation`` is stored as display metadata (counter-clockwise degrees), as phones do.
    """
    webm = container_format == "webm"
    output = io.BytesIO()
    with av.open(output, mode="w", format=container_format) as container:
        video = container.add_stream(codec or ("libvpx" if webm else _h264_or_mpeg4()), rate=fps)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if video.codec_context.name == "h264":
            video.options = {"preset": "ultrafast", "crf": "35"}
        if video.codec_context.name == "hevc":
            video.options = {"preset": "ultrafast", "crf": "35", "x265-params": "log-level=error"}
        if rotation:
            video.set_display_rotation(rotation)
        # Every stream must exist before the first packet is written.
        audio = container.add_stream("libopus" if webm else "aac", rate=48_000) if with_audio else None
        assert audio is None or isinstance(audio, AudioStream)
        frame_count = max(1, round(duration_s * fps))
        for index in range(frame_count):
            picture = _video_picture(width, height, index)
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # unannotated in PyAV
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _add_silence(container, audio, frame_count / fps)
    return output.getvalue()


# Each container PyAV's FFmpeg writes that schools record in, with a codec it is found with.
RECORDING_CONTAINERS = {
    "mp4": ("mp4", "libx264"),
    "mov": ("mov", "libx264"),
    "webm": ("webm", "libvpx"),
    "mkv": ("matroska", "libx264"),
    "flv": ("flv", "libx264"),
    "avi": ("avi", "mpeg4"),
    "ts": ("mpegts", "libx264"),
    "3gp": ("3gp", "libx264"),
    "wmv": ("asf", "wmv2"),
    "ogv": ("ogg", "libvpx"),
    "mpg": ("mpeg", "mpeg2video"),
}


def recording_bytes(format: str, **options: Any) -> bytes:
    """A small recording in the container of `format` (a key of RECORDING_CONTAINERS)."""
    container_format, codec = RECORDING_CONTAINERS[format]
    return video_bytes(container_format, codec=codec, **options)


@functools.lru_cache(maxsize=4)
def m4a_bytes(duration_s: float = 1.0) -> bytes:
    """Silent AAC in an MP4 container: a file with sound and no picture."""
    output = io.BytesIO()
    with av.open(output, mode="w", format="ipod") as container:
        audio = container.add_stream("aac", rate=48_000)
        _add_silence(container, audio, duration_s)
    return output.getvalue()


def _h264_or_mpeg4() -> str:
    try:
        Codec("libx264", "w")
    except Exception:
        return "mpeg4"
    return "libx264"


def _video_picture(width: int, height: int, index: int) -> Image.Image:
    image = Image.new("RGB", (width, height), VIDEO_BOTTOM_COLOUR)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height // 2), fill=VIDEO_TOP_COLOUR)
    # Something that moves, so frames differ as in any real recording.
    x = (index * 7) % max(1, width - 10)
    draw.rectangle((x, height // 4, x + 10, height // 4 + 10), fill=(255, 255, 255))
    return image


def _add_silence(container: av.container.OutputContainer, audio: AudioStream, seconds: float) -> None:
    sample_rate = audio.codec_context.sample_rate
    samples_per_frame = audio.codec_context.frame_size or 960
    sample_format = audio.codec_context.format.name
    layout = audio.codec_context.layout.name
    for pts in range(0, int(seconds * sample_rate), samples_per_frame):
        frame = av.AudioFrame(format=sample_format, layout=layout, samples=samples_per_frame)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = sample_rate
        frame.pts = pts
        container.mux(audio.encode(frame))
    container.mux(audio.encode(None))


def pdf_bytes(pages: list[str]) -> bytes:
    """One page per string, one line per "\\n", in a font that renders (and extracts) Chinese."""
    return _pdf_bytes(tuple(pages))


@functools.lru_cache(maxsize=32)
def _pdf_bytes(pages: tuple[str, ...]) -> bytes:
    if CHINESE_PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_PDF_FONT))
    output = io.BytesIO()
    # invariant: no creation date or random ID, so equal input gives equal bytes.
    document = canvas.Canvas(output, invariant=1)
    for page in pages:
        document.setFont(CHINESE_PDF_FONT, 14)
        for line_number, line in enumerate(page.split("\n")):
            document.drawString(72, 760 - 22 * line_number, line)
        document.showPage()
    document.save()
    return output.getvalue()


def docx_bytes(pages: list[str]) -> bytes:
    """A Word document with a page break between the strings and a paragraph per "\\n"."""
    return _docx_bytes(tuple(pages))


@functools.lru_cache(maxsize=32)
def _docx_bytes(pages: tuple[str, ...]) -> bytes:
    document = docx.Document()
    for index, page in enumerate(pages):
        if index:
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for line in page.split("\n"):
            document.add_paragraph(line)
    output = io.BytesIO()
    document.save(output)
    return output.getvalue()


def pptx_bytes(slides: list[str], notes: list[str] | None = None) -> bytes:
    """A presentation with one text box per slide and, where given, speaker notes."""
    return _pptx_bytes(tuple(slides), tuple(notes or ()))


@functools.lru_cache(maxsize=32)
def _pptx_bytes(slides: tuple[str, ...], notes: tuple[str, ...]) -> bytes:
    presentation = pptx.Presentation()
    blank_layout = presentation.slide_layouts[6]
    for index, text in enumerate(slides):
        slide = presentation.slides.add_slide(blank_layout)
        slide.shapes.add_textbox(Inches(1), Inches(1), Inches(8), Inches(2)).text_frame.text = text
        if index < len(notes) and notes[index]:
            slide.notes_slide.notes_text_frame.text = notes[index]
    output = io.BytesIO()
    presentation.save(output)
    return output.getvalue()


def srt_bytes(cues: list[tuple[float, float, str]]) -> bytes:
    return _subtitle_text(cues, separator=",", header="", numbered=True).encode("utf-8")


def vtt_bytes(cues: list[tuple[float, float, str]]) -> bytes:
    return _subtitle_text(cues, separator=".", header="WEBVTT\n\n", numbered=False).encode("utf-8")


def _subtitle_text(
    cues: Sequence[tuple[float, float, str]], *, separator: str, header: str, numbered: bool
) -> str:
    blocks = []
    for number, (start, end, text) in enumerate(cues, start=1):
        timing = f"{_timestamp(start, separator)} --> {_timestamp(end, separator)}"
        blocks.append(f"{number}\n{timing}\n{text}\n" if numbered else f"{timing}\n{text}\n")
    return header + "\n".join(blocks)


def _timestamp(seconds: float, separator: str) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole_seconds, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole_seconds:02d}{separator}{milliseconds:03d}"


@functools.lru_cache(maxsize=32)
def png_bytes(width: int = 8, height: int = 8) -> bytes:
    return _image_bytes("PNG", width, height)


@functools.lru_cache(maxsize=32)
def jpeg_bytes(width: int = 8, height: int = 8) -> bytes:
    return _image_bytes("JPEG", width, height)


def _image_bytes(image_format: str, width: int, height: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(output, format=image_format)
    return output.getvalue()
