"""Document reading: PDF text pages/s with PDFium vs pypdf, OCR pages/s, peak RSS and accuracy.

    .venv/bin/python bench/extract.py [--text-pages 200] [--ocr-pages 3] [--screen-seconds 60]

Text PDFs: a generated document of --text-pages pages of Chinese text (reportlab, UniGB-UCS2-H CID
font), read whole by services.documents.pdf (PDFium, garbage scoring, OCR off) and by pypdf's
extract_text, in one run. OCR: --ocr-pages generated A4-like pages of known Chinese text (rendered
with Pillow in WenQuanYi Micro Hei, 200 DPI-like sizes), clean and degraded (Gaussian blur, a 2°
rotation, JPEG quality 25), read by services.documents.ocr; character accuracy is
1 − edit distance / reference length over the page's characters without whitespace. Peak RSS is the
process's high-water mark (ru_maxrss) before and after OCR. Screen text: a generated 1280×720
recording of slides (one per 10 s) transcoded with the ladder's default settings and its screen text
read, before (a separate keyframe pass, services.documents.screens.screen_texts) and after (the
detector of services.documents.screen_changes in the transcode's decode pass, then OCR of the frames
it kept), in CPU-seconds per minute of video. Figures only, nothing asserted.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from services.documents import ocr
from services.documents.pdf import pdf_pages

T = TypeVar("T")
FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
# Sentences of a lesson plan, cut into lines; the pages' text is drawn from them, seeded.
PASSAGE = (
    "秋天的雨是一把钥匙它带着清凉和温柔轻轻地打开了秋天的大门"
    "秋天的雨有一盒五彩缤纷的颜料你看它把黄色给了银杏树黄黄的叶子像一把把小扇子扇哪扇哪扇走了夏天的炎热"
    "它把红色给了枫树红红的枫叶像一枚枚邮票飘哇飘哇邮来了秋天的凉爽"
    "教学目标认识本课生字会写盒颜等十三个字正确流利有感情地朗读课文背诵第二自然段"
    "教学重点理解课文内容体会秋天的美丽和丰收的喜悦教学难点学习作者观察和表达的方法"
    "课后练习读一读说一说秋天的雨还有哪些颜色小组合作完成练习题第三单元期中考试试卷"
)


def lines_of(seed: int, count: int, width: int) -> list[str]:
    chooser = random.Random(seed)
    lines = []
    for _ in range(count):
        start = chooser.randrange(0, len(PASSAGE) - width)
        lines.append(PASSAGE[start : start + width])
    return lines


def text_pdf(pages: int) -> bytes:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    output = io.BytesIO()
    document = canvas.Canvas(output, invariant=1)
    for page in range(pages):
        document.setFont("STSong-Light", 12)
        for number, line in enumerate(lines_of(page, 30, 36)):
            document.drawString(60, 780 - 24 * number, line)
        document.showPage()
    document.save()
    return output.getvalue()


def bench_text(pages: int) -> None:
    data = text_pdf(pages)
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "text.pdf"
        path.write_bytes(data)
        started = time.process_time()
        read = pdf_pages(path, ocr.OcrBudget(enabled=False))
        ours_s = time.process_time() - started
        started = time.process_time()
        document = pdfium.PdfDocument(str(path))
        raw = [document[index].get_textpage().get_text_range() for index in range(len(document))]
        document.close()
        pdfium_s = time.process_time() - started
        started = time.process_time()
        reader = pypdf.PdfReader(path)
        pypdf_texts = [page.extract_text() for page in reader.pages]
        pypdf_s = time.process_time() - started
    assert len(read) == len(raw) == len(pypdf_texts) == pages
    print(f"text PDF, {pages} pages of ~1080 characters ({len(data) / 1e6:.1f} MB); per CPU-second:")
    print(f"  PDFium text alone:                    {pages / pdfium_s:8.1f} pages/s")
    print(f"  services.documents.pdf (+ scoring):   {pages / ours_s:8.1f} pages/s")
    print(f"  pypdf extract_text:                   {pages / pypdf_s:8.1f} pages/s")
    print(f"  PDFium alone vs pypdf:                {pypdf_s / pdfium_s:8.1f}x")


def page_image(lines: list[str]) -> Image.Image:
    # A5-ish at ~200 DPI: 1240 px wide, 28 px text (about 10 pt).
    font = ImageFont.truetype(str(FONT), 28)
    image = Image.new("RGB", (1240, 120 + 56 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((80, 60 + 56 * number), line, fill="black", font=font)
    return image


def degraded(image: Image.Image) -> Image.Image:
    blurred = image.filter(ImageFilter.GaussianBlur(1.2)).rotate(2, expand=True, fillcolor="white")
    output = io.BytesIO()
    blurred.save(output, format="JPEG", quality=25)
    return Image.open(io.BytesIO(output.getvalue()))


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def bench_ocr(pages: int) -> None:
    if pages < 1:
        return
    if not FONT.exists():
        print(f"OCR: skipped, no CJK font at {FONT} (scripts/install-browser.sh installs it)")
        return
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    ocr.recognize(Image.new("RGB", (200, 60), "white"))  # the engine's start-up, timed apart
    startup_s = time.perf_counter() - started
    for label, transform in (("clean", lambda image: image), ("degraded", degraded)):
        total_chars = 0
        errors = 0
        elapsed = 0.0
        cpu = 0.0
        for page in range(pages):
            lines = lines_of(1000 + page, 12, 30)
            image = transform(page_image(lines))
            started, started_cpu = time.perf_counter(), time.process_time()
            found = ocr.recognize(image)
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            reference = "".join(lines)
            got = "".join((found.text if found else "").split())
            total_chars += len(reference)
            errors += edit_distance(reference, got)
        print(
            f"OCR {label:8}: {pages} pages of 360 characters, {pages / elapsed:5.2f} pages/s wall, "
            f"{cpu / pages:4.1f} CPU-s/page, character accuracy {100 * (1 - errors / total_chars):5.1f}%"
        )
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"OCR engine start-up {startup_s:.1f} s wall")
    print(f"peak RSS {rss_before:.0f} MB before OCR, {rss_after:.0f} MB after")


def slide_video(path: Path, seconds: int, seconds_per_slide: int = 10, fps: int = 5) -> int:
    """A screen recording of slides of generated text, 1280×720, a keyframe every 2 s."""
    import av

    font = ImageFont.truetype(str(FONT), 40)
    slides = []
    for slide in range(max(1, seconds // seconds_per_slide)):
        image = Image.new("RGB", (1280, 720), "white")
        draw = ImageDraw.Draw(image)
        for number, line in enumerate(lines_of(2000 + slide, 6, 20)):
            draw.text((80, 80 + 90 * number), line, fill="black", font=font)
        slides.append(image)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.codec_context.gop_size = 2 * fps
        for index in range(seconds * fps):
            frame = av.VideoFrame.from_image(slides[min(len(slides) - 1, index // (seconds_per_slide * fps))])
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return len(slides)


def _cpu(work: Callable[[], T]) -> tuple[T, float, float]:
    """What ``work`` returns, its wall seconds and the CPU-seconds of every thread of this process."""
    started, started_cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - started, time.process_time() - started_cpu


def bench_screens(seconds: int) -> None:
    """The whole of transcode + screen text on one clip, before (the screen text decoding the
    keyframes separately) and after (the detector inside the transcode's decode pass, then OCR of
    the frames it kept), in CPU-seconds per minute of video."""
    if seconds < 1 or not FONT.exists():
        return
    from services.documents.screen_changes import ScreenChanges
    from services.documents.screens import frames_in, keyframe_changes, read_screens, screen_texts
    from services.settings import Settings
    from services.video.service import options_from
    from services.video.transcode import transcode

    options = options_from(Settings())
    ocr.recognize(Image.new("RGB", (200, 60), "white"))  # the engine's start-up is counted in neither
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "slides.mp4"
        slides = slide_video(path, seconds)
        plain, plain_wall, plain_cpu = _cpu(lambda: transcode(path, Path(workdir) / "plain", options))
        separate, separate_wall, separate_cpu = _cpu(lambda: screen_texts(path))
        keyframes_out = Path(workdir) / "keyframes"
        _, _, keyframes_cpu = _cpu(lambda: keyframe_changes(path, keyframes_out))
        shared_out = Path(workdir) / "shared"
        observer = ScreenChanges(shared_out)
        _, shared_wall, shared_cpu = _cpu(lambda: transcode(path, shared_out, options, observe=observer))
        found, ocr_wall, ocr_cpu = _cpu(lambda: read_screens(frames_in(shared_out), plain.duration_s))
    per_minute = 60 / seconds
    before, after = (plain_cpu + separate_cpu) * per_minute, (shared_cpu + ocr_cpu) * per_minute
    before_wall, after_wall = (plain_wall + separate_wall) * per_minute, (shared_wall + ocr_wall) * per_minute
    renditions = "+".join(rendition.name for rendition in plain.renditions)
    print(f"screen text: {seconds} s of 1280x720 slides at 5 fps ({slides} slides), renditions {renditions}")
    print(
        f"  before: transcode {plain_cpu * per_minute:5.1f} + separate keyframe pass and OCR "
        f"{separate_cpu * per_minute:5.1f} = {before:5.1f} CPU-s per minute of video "
        f"({len(separate)} screens; {before_wall:.0f} s wall/min)"
    )
    print(
        f"  after:  transcode with the detector {shared_cpu * per_minute:5.1f} + OCR of the "
        f"{len(observer.kept)} kept frames {ocr_cpu * per_minute:5.1f} = {after:5.1f} CPU-s per minute "
        f"of video ({len(found)} screens; {after_wall:.0f} s wall/min)"
    )
    print(
        f"  the separate pass's decoding alone (keyframes, no OCR): {keyframes_cpu * per_minute:.2f} "
        "CPU-s per minute"
    )
    detector = shared_cpu - plain_cpu
    print(
        f"  the detector's cost in the transcode: {detector * per_minute:+.1f} CPU-s per minute "
        f"({100 * detector / plain_cpu:+.1f}%, within the load's noise when small)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--text-pages", type=int, default=200)
    parser.add_argument("--ocr-pages", type=int, default=3)
    parser.add_argument("--screen-seconds", type=int, default=60)
    args = parser.parse_args()
    print(f"CPUs: {os.cpu_count()}")
    bench_text(args.text_pages)
    bench_ocr(args.ocr_pages)
    bench_screens(args.screen_seconds)


if __name__ == "__main__":
    main()
