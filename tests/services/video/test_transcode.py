"""The transcode on real (tiny) recordings: every accepted container, HEVC, portrait phone video,
no sound, damage half way, a lesson-length header: one decode feeding an aligned H.264 ladder."""

from __future__ import annotations

import asyncio
import itertools
import re
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from services.video.isolated import Limits, run_transcode
from services.video.transcode import (
    MAX_ENCODER_THREADS,
    MEDIA_PLAYLIST,
    Options,
    TranscodeError,
    encoder_threads,
    plan_renditions,
    transcode,
)
from tests import samples

SMALL_LADDER = Options(ladder=(120, 240), preset="ultrafast", thumbnail_interval_s=1.0)


def run(tmp_path: Path, data: bytes, options: Options = SMALL_LADDER) -> tuple[Path, dict[str, Any]]:
    source = tmp_path / "source"
    source.write_bytes(data)
    result = transcode(source, tmp_path / "out", options)
    return tmp_path / "out", result.as_json()


def keyframe_times(segment: Path) -> list[float]:
    with av.open(str(segment)) as container:
        stream = container.streams.video[0]
        return [
            round(float(packet.pts * (stream.time_base or 0)), 2)
            for packet in container.demux(stream)
            if packet.pts is not None and packet.is_keyframe
        ]


def first_frame(path: Path) -> VideoFrame:
    with av.open(str(path)) as container:
        return next(iter(container.decode(video=0)))


@pytest.mark.parametrize("format", sorted(samples.RECORDING_CONTAINERS))
def test_every_accepted_container_gives_the_h264_ladder(tmp_path: Path, format: str) -> None:
    out, result = run(tmp_path, samples.recording_bytes(format, duration_s=2.0, fps=10))
    assert [item["name"] for item in result["renditions"]] == ["120p", "240p"]
    with av.open(str(out / "240p" / "seg00000.ts")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (320, 240)
    master = (out / "master.m3u8").read_text()
    assert "RESOLUTION=160x120" in master and "240p/index.m3u8" in master
    assert "#EXT-X-ENDLIST" in (out / "120p" / "index.m3u8").read_text()


def test_keyframes_are_aligned_across_renditions_and_segments_last_one_gop(tmp_path: Path) -> None:
    out, result = run(tmp_path, samples.video_bytes("mp4", duration_s=9.0, fps=10, with_audio=True))
    assert result["has_audio"] is True
    times = {
        name: [time for segment in sorted((out / name).glob("seg*.ts")) for time in keyframe_times(segment)]
        for name in ("120p", "240p")
    }
    assert times["120p"] == times["240p"]
    steps = {round(b - a, 2) for a, b in zip(times["240p"], times["240p"][1:], strict=False)}
    assert steps == {2.0}  # a fixed two-second GOP
    playlist = (out / "240p" / "index.m3u8").read_text()
    assert "#EXTINF:2.0" in playlist and playlist.count(".ts") == 5
    master = (out / "master.m3u8").read_text()
    # The announced rates are the measured ones: the peak segment's, and the mean.
    announced = dict(re.findall(r"[,:](BANDWIDTH|AVERAGE-BANDWIDTH)=(\d+)", master.splitlines()[-2]))
    segments = sorted((out / "240p").glob("seg*.ts"))
    peak = max(path.stat().st_size * 8 / 2.0 for path in segments[:-1])
    assert int(announced["BANDWIDTH"]) >= peak > 0
    assert 0 < int(announced["AVERAGE-BANDWIDTH"]) <= int(announced["BANDWIDTH"])
    assert result["renditions"][-1]["peak_bps"] == int(announced["BANDWIDTH"])
    assert 'CODECS="avc1.4d401f,mp4a.40.2"' in (out / "master.m3u8").read_text()


def test_the_sources_picture_types_do_not_leak_into_the_renditions(tmp_path: Path) -> None:
    # A phone's stream with a keyframe every 0.7 s: libx264 obeys a picture type left on the frame,
    # so these keyframes once came through, off the two-second grid.
    source = tmp_path / "phone.mp4"
    with av.open(str(source), mode="w") as container:
        video = container.add_stream("libx264", rate=10)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"preset": "ultrafast", "x264-params": "keyint=7:min-keyint=7:scenecut=0"}
        for index in range(60):
            picture = Image.new("RGB", (320, 240), (index * 4, 90, 200 - index * 3))
            frame = VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # unannotated in PyAV
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    transcode(source, tmp_path / "out", SMALL_LADDER)
    times = [
        time
        for segment in sorted((tmp_path / "out" / "240p").glob("seg*.ts"))
        for time in keyframe_times(segment)
    ]
    assert times == [0.0, 2.0, 4.0]


def test_variable_frame_rate_gets_a_constant_one_with_repeated_frames(tmp_path: Path) -> None:
    # A phone's stream with a half-second stall: the slots it skipped repeat the frame before, the
    # very object each rendition's thread encodes, each with a timestamp of its own.
    source = tmp_path / "vfr.mp4"
    instants_ms = [index * 100 for index in range(10)] + [1500 + index * 100 for index in range(15)]
    with av.open(str(source), mode="w") as container:
        video = container.add_stream("libx264", rate=10)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.time_base = Fraction(1, 1000)
        video.options = {"preset": "ultrafast"}
        for index, instant in enumerate(instants_ms):
            picture = Image.new("RGB", (320, 240), (index * 8, 90, 200 - index * 6))
            frame = VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # unannotated in PyAV
            frame.pts, frame.time_base = instant, Fraction(1, 1000)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    result = transcode(source, tmp_path / "out", Options(ladder=(120, 240), preset="ultrafast"))
    rate = Fraction(result.frame_rate).limit_denominator(1001)
    for name in ("120p", "240p"):
        with av.open(str(tmp_path / "out" / name / MEDIA_PLAYLIST)) as container:
            stream = container.streams.video[0]
            times = sorted(frame.time or 0.0 for frame in container.decode(stream))
        steps = {round(b - a, 3) for a, b in itertools.pairwise(times)}
        assert steps == {round(float(1 / rate), 3)}
        assert len(times) == round(result.duration_s * float(rate)) == 25


def test_the_ladder_never_upscales_and_keeps_portrait_upright(tmp_path: Path) -> None:
    # Stored 320×240 with a quarter turn to display: 240×320, the red (top) half turned to the left,
    # as the poster shows it.
    out, result = run(tmp_path, samples.video_bytes("mp4", rotation=90, duration_s=1.0))
    renditions = result["renditions"]
    assert [(item["width"], item["height"]) for item in renditions] == [(120, 160), (240, 320)]
    picture = first_frame(out / "240p" / "seg00000.ts").to_image()  # type: ignore[no-untyped-call]
    left, right = picture.getpixel((20, 300)), picture.getpixel((220, 300))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 150 > left[2] and right[2] > 150 > right[0]
    assert plan_renditions(1920, 1080, (360, 720, 1080, 1440))[-1].name == "1080p"
    assert [r.name for r in plan_renditions(1080, 1920, (360, 720, 1080))] == ["360p", "720p", "1080p"]
    assert [(r.width, r.height) for r in plan_renditions(641, 359, (360,))] == [
        (640, 358)
    ]  # odd sizes made even, never up


def test_hevc_phone_video_becomes_h264(tmp_path: Path) -> None:
    out, _ = run(tmp_path, samples.video_bytes("mp4", codec="libx265", duration_s=1.0))
    with av.open(str(out / "240p" / "seg00000.ts")) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_video_without_sound_has_no_audio_track(tmp_path: Path) -> None:
    out, result = run(tmp_path, samples.video_bytes("mp4", duration_s=1.0))
    assert result["has_audio"] is False
    assert "mp4a" not in (out / "master.m3u8").read_text()
    with av.open(str(out / "240p" / "seg00000.ts")) as container:
        assert not container.streams.audio


def test_storyboard_comes_from_the_same_pass(tmp_path: Path) -> None:
    out, result = run(tmp_path, samples.video_bytes("mp4", duration_s=3.0, fps=10))
    board = result["storyboard"]
    assert board == {
        "interval_s": 1.0,
        "tile_width": 160,
        "tile_height": 120,
        "columns": 10,
        "rows": 10,
        "count": 3,
        "sheets": 1,
    }
    track = (out / "storyboard" / "storyboard.vtt").read_text()
    assert (
        track.startswith("WEBVTT")
        and "00:00:01.000 --> 00:00:02.000\nsheet0000.jpg#xywh=160,0,160,120" in track
    )
    with av.open(str(out / "storyboard" / "sheet0000.jpg")) as image:
        assert (image.streams.video[0].width, image.streams.video[0].height) == (1600, 120)


def test_a_stream_damaged_half_way_keeps_what_decodes(tmp_path: Path) -> None:
    data = bytearray(samples.recording_bytes("ts", duration_s=4.0, fps=10))
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(range(256)) * 7 + bytes(208)
    out, result = run(tmp_path, bytes(data))
    assert 3.0 <= float(result["duration_s"]) <= 4.5
    assert (out / "master.m3u8").is_file()


def test_garbage_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TranscodeError, match="not a video"):
        run(tmp_path, b"\x1a\x45\xdf\xa3" + bytes(5000))


def test_a_lesson_length_header_costs_nothing_up_front(tmp_path: Path) -> None:
    """A header claiming ten hours (as a 45-minute lesson's would claim 45): thumbnails thin out
    with the claimed length, nothing is allocated for it, and the real frames are what count."""
    data = bytearray(samples.video_bytes("matroska", duration_s=2.0))
    at = data.index(b"\x44\x89\x88")  # Segment Info's Duration, a float64 in milliseconds
    data[at + 3 : at + 11] = struct.pack(">d", 10 * 3600 * 1000.0)
    _, result = run(tmp_path, bytes(data), Options(ladder=(240,), preset="ultrafast"))
    assert result["storyboard"]["interval_s"] == 60  # ≤ 600 thumbnails for 10 h
    assert 1.5 <= float(result["duration_s"]) <= 2.5


def test_the_child_process_is_held_to_its_memory_limit(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(samples.video_bytes("mp4", duration_s=1.0))

    async def ignore(fraction: float) -> None:
        pass

    with pytest.raises(TranscodeError, match=r"memory|stopped"):
        asyncio.run(
            run_transcode(source, tmp_path / "out", SMALL_LADDER, Limits(time_s=60, memory_mb=40), ignore)
        )


def test_the_child_reports_progress_and_the_result(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(samples.video_bytes("mp4", duration_s=3.0, fps=10))
    seen: list[float] = []

    async def record(fraction: float) -> None:
        seen.append(fraction)

    result = asyncio.run(run_transcode(source, tmp_path / "out", SMALL_LADDER, Limits(60, 3072), record))
    assert seen and seen == sorted(seen) and seen[-1] == 1.0
    assert "master.m3u8" in result["files"]


def test_the_time_limit_follows_the_duration_the_header_claims(tmp_path: Path) -> None:
    """A hang costs the time limit; a lesson claiming an hour gets factor × an hour once the child has
    read its header."""
    source = tmp_path / "source"
    source.write_bytes(samples.video_bytes("mp4", duration_s=1.0))

    async def ignore(fraction: float) -> None:
        pass

    with pytest.raises(TranscodeError, match=r"longer than 0\.01 s"):
        asyncio.run(
            run_transcode(source, tmp_path / "a", SMALL_LADDER, Limits(time_s=0.01, memory_mb=3072), ignore)
        )
    limits = Limits(time_s=600, memory_mb=3072, time_factor=4.0)
    assert (limits.allowing(45 * 60), limits.allowing(10)) == (4 * 45 * 60, 600)


def test_encoder_threads_follow_the_cpus_this_process_may_use_up_to_a_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert encoder_threads() == 3  # libx264's own choice on 2 CPUs, as the ffmpeg reference runs it
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(32)))
    assert encoder_threads() == MAX_ENCODER_THREADS
