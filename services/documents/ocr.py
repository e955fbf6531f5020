"""OCR of pictures of text: scans, phone photos, slides' pictures, PDF pages without usable text.

RapidOCR runs PaddleOCR's PP-OCRv4 Chinese models (detection, direction, recognition) on ONNX
Runtime; the models ship inside the rapidocr_onnxruntime wheel, so nothing is downloaded at run
time. It is CPU-heavy synchronous work: callers run it in a worker thread or child process, and one
recognition at a time per process keeps the memory it takes bounded.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps

logger = logging.getLogger(__name__)

# Pictures are scaled down to this longest side first: the detector works on smaller ones anyway
# and recognition of text lines this size loses nothing.
MAX_SIDE_PX = 2400
# Smaller pictures are icons and bullets, not text worth reading.
MIN_SIDE_PX = 24
# Lines read with less confidence are dropped (the engine's own threshold is 0.5).
MIN_LINE_CONFIDENCE = 0.6
# Fewer characters than this from an upright reading: the picture may be lying on its side.
FEW_CHARS = 8

_engine: Any = None
_engine_lock = threading.Lock()
_recognition_lock = threading.Lock()


@dataclass(frozen=True)
class OcrText:
    text: str
    # Mean line confidence, weighted by characters.
    confidence: float

    @property
    def chars(self) -> int:
        return sum(1 for char in self.text if not char.isspace())


@dataclass
class OcrBudget:
    """How many pictures one file may have recognised, and whether OCR runs at all."""

    enabled: bool = True
    max_pages: int = 50
    used: int = field(default=0)
    # Pictures that needed OCR but got none because the budget was spent (or OCR is off).
    skipped: int = field(default=0)

    def take(self) -> bool:
        if not self.enabled or self.used >= self.max_pages:
            self.skipped += 1
            return False
        self.used += 1
        return True


def _get_engine() -> Any:
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR  # loads ONNX Runtime: only when OCR is needed

            threads = min(os.cpu_count() or 1, 4)
            _engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        return _engine


def prepared(image: Image.Image) -> Image.Image:
    """Upright (EXIF orientation applied, as phones store photos sideways), RGB, at most MAX_SIDE_PX."""
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        # Transparent areas (slide pictures) read as paper, not as black.
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    if max(image.size) > MAX_SIDE_PX:
        image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    return image


@dataclass(frozen=True)
class _Reading:
    found: OcrText
    # Share of the lines found that stand upright (taller than wide): a picture on its side.
    vertical: float

    @property
    def worth(self) -> float:
        return self.found.chars * self.found.confidence * (1 - self.vertical)


def _read(image: Image.Image) -> _Reading:
    # The engine takes OpenCV's BGR order. Its line-direction classifier stays off: it would read
    # an upside-down page line by line, but with the lines in reverse order; turning the whole
    # picture (see recognize) reads it in order instead.
    array = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    with _recognition_lock:
        result, _elapsed = _get_engine()(array, use_cls=False)
    lines: list[tuple[str, float]] = []
    vertical = 0
    for box, text, score in result or []:
        if float(score) >= MIN_LINE_CONFIDENCE and str(text).strip():
            lines.append((str(text).strip(), float(score)))
            (x0, y0), (x1, y1), (x2, y2) = box[0], box[1], box[2]
            width, height = abs(x1 - x0) + abs(y1 - y0), abs(x2 - x1) + abs(y2 - y1)
            vertical += height > 1.5 * width
    weight = sum(len(text) for text, _ in lines)
    confidence = sum(len(text) * score for text, score in lines) / weight if weight else 0.0
    found = OcrText(text="\n".join(text for text, _ in lines), confidence=round(confidence, 3))
    return _Reading(found, vertical / len(lines) if lines else 0.0)


def recognize(image: Image.Image) -> OcrText | None:
    """The text in ``image``, line by line, or None when there is none.

    A picture that reads as (almost) nothing upright, or whose lines stand upright, is tried turned
    too: scans and photos without orientation data are often a quarter or half turn off.
    """
    image = prepared(image)
    if min(image.size) < MIN_SIDE_PX:
        return None
    best = _read(image)
    if best.found.chars < FEW_CHARS or best.vertical > 0.5:
        turns = [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270]
        if best.found.chars < FEW_CHARS:
            turns.append(Image.Transpose.ROTATE_180)
        for turn in turns:
            candidate = _read(image.transpose(turn))
            if candidate.worth > best.worth:
                best = candidate
    return best.found if best.found.text else None
