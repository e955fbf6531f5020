"""Documents made for the tests: PDFs in legacy Chinese encodings, scans rendered from known text,
damaged and protected PDFs. Everything is generated, so each case's text is known exactly."""

from __future__ import annotations

import functools
import hashlib
import io
import re
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


def pdf_with_attachment(pages: list[str], name: str, content: bytes) -> bytes:
    """An unencrypted PDF carrying a file (e.g. a password-protected PDF: an encrypted attachment)."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(samples.pdf_bytes(pages))))
    writer.add_attachment(name, content)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


# The padding string of the PDF standard security handler (ISO 32000-1, 7.6.3.3).
_PASSWORD_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    box = list(range(256))
    j = 0
    for i in range(256):
        j = (j + box[i] + key[i % len(key)]) % 256
        box[i], box[j] = box[j], box[i]
    output = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + box[i]) % 256
        box[i], box[j] = box[j], box[i]
        output.append(byte ^ box[(box[i] + box[j]) % 256])
    return bytes(output)


def _rc4_twenty_rounds(key: bytes, data: bytes) -> bytes:
    for round_number in range(20):
        data = _rc4(bytes(byte ^ round_number for byte in key), data)
    return data


def pdf_with_encrypted_embedded_file(pages: list[str], password: str = "attachment-password") -> bytes:
    """What Acrobat's "encrypt only file attachments" writes: an /Encrypt dictionary (standard
    handler, revision 4) whose strings and streams use the Identity filter and whose embedded files
    use RC4 under ``password``; the document opens without it, its attachment does not.

    Made as an incremental update of a PDF with a plain attachment: the attachment's stream again,
    encrypted, the /Encrypt dictionary, and a trailer naming it (algorithms 1, 2, 3 and 5 of
    ISO 32000-1, 7.6)."""
    content = "参考答案：青蛙的成长过程".encode()
    base = pdf_with_attachment(pages, "答案.txt", content)
    # pypdf writes the attachment as it came (no filter), and one classic trailer.
    found = re.search(rb"(\d+) 0 obj\s*<<\s*/Type /EmbeddedFile\s", base)
    trailer = re.search(rb"trailer\s*<<.*?/Size (\d+).*?/Root (\d+) 0 R", base, re.DOTALL)
    assert found is not None and trailer is not None
    stream_number, size, root_number = int(found.group(1)), int(trailer.group(1)), int(trailer.group(2))
    file_id = hashlib.md5(base).digest()
    padded = (password.encode() + _PASSWORD_PAD)[:32]
    owner_key = hashlib.md5(padded).digest()
    for _ in range(50):
        owner_key = hashlib.md5(owner_key).digest()
    owner_value = _rc4_twenty_rounds(owner_key, padded)
    permissions = -4
    key = hashlib.md5(
        padded + owner_value + permissions.to_bytes(4, "little", signed=True) + file_id
    ).digest()
    for _ in range(50):
        key = hashlib.md5(key).digest()
    user_value = _rc4_twenty_rounds(key, hashlib.md5(_PASSWORD_PAD + file_id).digest()) + bytes(16)
    object_key = hashlib.md5(key + stream_number.to_bytes(3, "little") + b"\0\0").digest()
    encrypted = _rc4(object_key, content)

    output = io.BytesIO()
    output.write(base if base.endswith(b"\n") else base + b"\n")
    encrypt_number = size
    offsets = {stream_number: output.tell()}
    output.write(
        b"%d 0 obj\n<< /Type /EmbeddedFile /Length %d >>\nstream\n" % (stream_number, len(encrypted))
    )
    output.write(encrypted + b"\nendstream\nendobj\n")
    offsets[encrypt_number] = output.tell()
    output.write(
        b"%d 0 obj\n<< /Filter /Standard /V 4 /R 4 /Length 128 /P %d /O <%s> /U <%s>"
        b" /CF << /StdCF << /CFM /V2 /AuthEvent /EFOpen /Length 16 >> >>"
        b" /StmF /Identity /StrF /Identity /EFF /StdCF >>\nendobj\n"
        % (encrypt_number, permissions, owner_value.hex().encode(), user_value.hex().encode())
    )
    xref = output.tell()
    output.write(b"xref\n")
    for number, offset in sorted(offsets.items()):
        output.write(b"%d 1\n%010d 00000 n \n" % (number, offset))
    previous = int(re.findall(rb"startxref\s+(\d+)", base)[-1])
    identifier = file_id.hex().encode()
    output.write(
        b"trailer\n<< /Size %d /Root %d 0 R /Prev %d /Encrypt %d 0 R /ID [<%s> <%s>] >>\n"
        % (
            encrypt_number + 1,
            root_number,
            previous,
            encrypt_number,
            identifier,
            identifier,
        )
    )
    output.write(b"startxref\n%d\n%%%%EOF\n" % xref)
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
