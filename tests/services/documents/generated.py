"""Documents made for the tests: PDFs in legacy Chinese encodings, scans rendered from known text,
damaged and protected PDFs. Everything is generated, so each case's text is known exactly."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import av
import pptx
import pypdf
import pytest
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont
from pptx.util import Inches
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import CIDFont
from reportlab.pdfgen import canvas

from tests import samples

# Debian's fonts-wqy-microhei, which scripts/install-browser.sh installs for the browser tests.
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# EXIF orientation 6: the camera was turned a quarter; viewers rotate the picture 90° clockwise.
EXIF_ORIENTATION = 0x0112


def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    if not CJK_FONT.exists():
        pytest.skip(f"rendering scans needs a CJK font at {CJK_FONT}: run scripts/install-browser.sh")
    return ImageFont.truetype(str(CJK_FONT), size)


def legacy_cid_pdf(text: str, font: str, encoding: str, codec: str) -> bytes:
    """One page of ``text`` in a non-embedded CID font whose CMap is a legacy encoding (as older
    Chinese office suites wrote them): the content stream holds ``codec`` bytes, not Unicode."""
    cid_font = CIDFont(font, encoding)
    pdfmetrics.registerFont(cid_font)
    output = io.BytesIO()
    document = canvas.Canvas(output, invariant=1)
    document.setFont(cid_font.fontName, 16)
    # reportlab writes a str's code points as bytes: the legacy bytes go through latin-1.
    document.drawString(72, 720, text.encode(codec).decode("latin-1"))
    document.showPage()
    document.save()
    return output.getvalue()


@functools.lru_cache(maxsize=16)
def scan(lines: tuple[str, ...], width: int = 900, size: int = 34) -> Image.Image:
    """A clean "scan" of ``lines``: black text on white, as a flatbed scanner gives it."""
    font = cjk_font(size)
    height = 80 + len(lines) * (size * 2)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((40, 40 + number * size * 2), line, fill="black", font=font)
    return image


def image_bytes(image: Image.Image, format: str, **options: object) -> bytes:
    output = io.BytesIO()
    image.save(output, format=format, **options)
    return output.getvalue()


def phone_photo(lines: tuple[str, ...]) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6, as phones save portrait shots."""
    upright = scan(lines)
    # Stored pixels are the upright picture turned a quarter counter-clockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    return image_bytes(stored, "JPEG", quality=90, exif=exif)


def scanned_pdf(lines: tuple[str, ...], text_layer: str | None = None) -> bytes:
    """One page that is a picture of ``lines``; with ``text_layer``, invisible text over it (what
    scanners' own OCR or a broken font mapping leaves)."""
    picture = scan(lines)
    output = io.BytesIO()
    document = canvas.Canvas(output, pagesize=(picture.width * 0.6, picture.height * 0.6), invariant=1)
    document.drawImage(ImageReader(picture), 0, 0, picture.width * 0.6, picture.height * 0.6)
    if text_layer is not None:
        layer = document.beginText(20, picture.height * 0.6 - 30)
        layer.setTextRenderMode(3)  # invisible
        layer.setFont("Helvetica", 10)
        layer.textLine(text_layer)
        document.drawText(layer)
    document.showPage()
    document.save()
    return output.getvalue()


def cyclic_page_tree_pdf(pages: list[str]) -> bytes:
    """A PDF whose page tree lists its own root among its kids: pypdf refuses it, PDFium recovers."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(samples.pdf_bytes(pages))))
    root_pages = writer.root_object["/Pages"].get_object()
    assert isinstance(root_pages, pypdf.generic.DictionaryObject)
    kids = root_pages["/Kids"]
    assert isinstance(kids, pypdf.generic.ArrayObject)
    kids.append(root_pages.indirect_reference)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def password_pdf(pages: list[str]) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(samples.pdf_bytes(pages))))
    writer.encrypt("opening-password", algorithm="AES-128")
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def pptx_with_picture(title: str, picture: Image.Image) -> bytes:
    """One slide: a title, and a screenshot of text as a picture."""
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = title
    slide.shapes.add_picture(io.BytesIO(image_bytes(picture, "PNG")), Inches(0.5), Inches(2), Inches(9))
    output = io.BytesIO()
    presentation.save(output)
    return output.getvalue()


@functools.lru_cache(maxsize=4)
def slide_video(slides: tuple[tuple[str, ...], ...], seconds_each: float = 4.0, fps: int = 5) -> bytes:
    """An MP4 showing each slide (lines of text) for ``seconds_each``, a keyframe every second, as a
    screen recording of a lesson's slides."""
    pictures = [scan(lines, width=640, size=40).resize((640, 160)) for lines in slides]
    output = io.BytesIO()
    with av.open(output, mode="w", format="mp4") as container:
        stream = container.add_stream(samples._h264_or_mpeg4(), rate=fps)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = 640, 160, "yuv420p"
        stream.codec_context.gop_size = fps
        frames_each = round(seconds_each * fps)
        for index in range(frames_each * len(pictures)):
            frame = av.VideoFrame.from_image(pictures[index // frames_each])  # type: ignore[no-untyped-call]
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return output.getvalue()
