"""Text on screen in recordings: each new slide once, from the second it appears."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.documents.base import ExtractionError
from services.documents.screens import screen_texts
from tests import samples
from tests.services.documents import generated

TITLE = ("第一课 小蝌蚪找妈妈",)
EXERCISE = ("课堂练习 青蛙的成长过程",)


def test_each_new_slide_is_read_once_from_the_second_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "lesson.mp4"
    # The title slide comes back at the end: a repeat, not a new screen.
    path.write_bytes(generated.slide_video((TITLE, EXERCISE, TITLE)))

    screens = screen_texts(path)

    assert [(screen.start_s, screen.end_s, screen.text) for screen in screens] == [
        (0.0, 4.0, "第一课小蝌蚪找妈妈"),
        (4.0, 8.0, "课堂练习青蛙的成长过程"),
    ]
    assert all(screen.confidence > 0.8 and screen.thumbnail.startswith(b"\xff\xd8") for screen in screens)


def test_a_recording_without_text_on_screen_has_no_screens(tmp_path: Path) -> None:
    path = tmp_path / "plain.mp4"
    path.write_bytes(samples.mp4_bytes(2.0))

    assert screen_texts(path) == []


def test_what_is_not_a_video_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "not.mp4"
    path.write_bytes(b"not a video at all")

    with pytest.raises(ExtractionError, match="video"):
        screen_texts(path)
