"""Small files that keep a reader busy for minutes or hours: the hostile inputs of finding 2 of the
security review (issue 13), generated, so no binary sample is checked in.

Each is tiny on the wire and passes every size and ratio check, because its pages all share one
part full of empty text: the reader walks that part again for every page.
"""

from __future__ import annotations

import functools
import io
import random
import zipfile
import zlib
from collections.abc import Callable

from tests import samples

# One content stream of empty text-showing operators, ~1.5 MB once inflated.
_EMPTY_SHOWS = 250_000


@functools.lru_cache(maxsize=4)
def stalling_pdf(pages: int = 70, streams_per_page: int = 1) -> bytes:
    """A ~5.6 KB PDF whose pages all draw one shared 1.5 MB content stream of `() Tj` operators."""
    content = zlib.compress(b"BT /F1 12 Tf " + b"() Tj\n" * _EMPTY_SHOWS + b"ET", 9)
    first_page = 5
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Count %d/Kids[%s]/MediaBox[0 0 595 842]/Resources<</Font<</F1 3 0 R>>>>>>"
        % (pages, b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))),
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
        b"<</Length %d/Filter/FlateDecode>>stream\n" % len(content) + content + b"\nendstream",
    ]
    contents = b"[" + b" ".join([b"4 0 R"] * streams_per_page) + b"]"
    objects += [b"<</Type/Page/Parent 2 0 R/Contents%s>>" % contents for _ in range(pages)]
    output = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(output))
        output += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(output)
    output += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    output += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    output += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(output)


def _empty_runs(tag: str, count: int) -> bytes:
    # Varying attributes keep the part's compression ratio under the refused one (100).
    rng = random.Random(count)
    runs = (
        f'<{tag}:r><{tag}:rPr><{tag}:lang val="zh-{rng.getrandbits(24):06X}"/></{tag}:rPr>'
        f"<{tag}:t></{tag}:t></{tag}:r>"
        for _ in range(count)
    )
    return "".join(runs).encode()


def _replaced(package: bytes, name: str, transform: Callable[[bytes], bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(package))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == name:
                data = transform(data)
            archive.writestr(info.filename, data)
    return output.getvalue()


@functools.lru_cache(maxsize=4)
def stalling_pptx(slides: int = 2000, runs: int = 6000) -> bytes:
    """A presentation listing one slide, full of empty text runs, ``slides`` times over."""
    base = samples.pptx_bytes(["空"])
    runs_xml = _empty_runs("a", runs)

    def fill_slide(xml: bytes) -> bytes:
        start = xml.index(b"<a:p>")
        return xml[:start] + b"<a:p>" + runs_xml + xml[start + len(b"<a:p>") :]

    def repeat_slide(xml: bytes) -> bytes:
        start = xml.index(b"<p:sldId ")
        end = xml.index(b"/>", start) + 2
        entry = xml[start:end].decode()
        rid = entry.split('r:id="')[1].split('"')[0]
        entries = "".join(f'<p:sldId id="{256 + n}" r:id="{rid}"/>' for n in range(slides))
        return xml[:start] + entries.encode() + xml[end:]

    package = _replaced(base, "ppt/slides/slide1.xml", fill_slide)
    return _replaced(package, "ppt/presentation.xml", repeat_slide)


_EMPTY_WORD_MARKUP = (
    b"<w:r/>",
    b"<w:t/>",
    b"<w:tab/>",
    b"<w:br/>",
    b"<w:cr/>",
    b"<w:rPr/>",
    b"<w:b/>",
    b"<w:i/>",
)


@functools.lru_cache(maxsize=4)
def stalling_docx(elements: int = 4_000_000) -> bytes:
    """A Word document whose body is one paragraph of ``elements`` empty elements (~24 MB of markup,
    under the 32 MB bound), each of which the page walker visits."""
    base = samples.docx_bytes(["空"])
    rng = random.Random(elements)
    # Drawn at random, so the part compresses well but under the refused ratio (100).
    markup = b"".join(rng.choices(_EMPTY_WORD_MARKUP, k=elements))

    def fill_body(xml: bytes) -> bytes:
        start = xml.index(b"<w:body>") + len(b"<w:body>")
        return xml[:start] + b"<w:p>" + markup + b"</w:p>" + xml[start:]

    return _replaced(base, "word/document.xml", fill_body)
