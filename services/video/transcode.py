"""The transcode itself: one decode of the recording feeding every rendition of the ladder (H.264 +
AAC, packaged as HLS) and the storyboard (sprite sheets of thumbnails and their WebVTT track).

Runs in a child process (see isolated.py), never in the worker: FFmpeg decodes whatever was
uploaded. Frames are decoded once, turned upright once, put on a constant frame rate once, and
only then scaled for each rendition, so every rendition gets the very same frames and keyframes
fall on the same instants in all of them (a fixed GOP), which is what lets a player switch
renditions at any segment boundary.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import av
from av.audio.resampler import AudioResampler
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.filter import Graph
from av.video.frame import PictureType, VideoFrame
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream
from PIL import Image

MASTER_PLAYLIST = "master.m3u8"
MEDIA_PLAYLIST = "index.m3u8"
STORYBOARD_TRACK = "storyboard.vtt"
MAX_FRAME_RATE = Fraction(30)
AUDIO_RATE = 48_000
# Beyond a few percent of undecodable packets a recording is broken, not merely scratched.
MAX_BROKEN_PACKET_SHARE = 0.25
MIN_BROKEN_PACKETS = 10
# Nominal video bit rates (kbit/s) per rendition height; others scale with the pixel count.
NOMINAL_KBPS = {240: 300, 360: 600, 480: 1000, 540: 1200, 720: 2000, 1080: 4000, 1440: 8000}


# Sees each picture the renditions get (upright), with its second on their timeline; called in
# the decode loop, so it must be cheap (services.documents.screen_changes samples a grey thumbnail).
FrameObserver = Callable[[VideoFrame, float], None]


class TranscodeError(Exception):
    """Nothing playable could be made; the message is for the teacher."""


# libx264's own default is 1.5 threads a CPU, and with frame threads each one holds frames of its
# own: on a 32-CPU server three encoders would run ~150 threads and outgrow the child's address-space
# limit. Three renditions encode side by side, so a few threads each keep every CPU busy.
MAX_ENCODER_THREADS = 6


def encoder_threads() -> int:
    """libx264's automatic count (1.5 a CPU this process may use), at most MAX_ENCODER_THREADS."""
    return max(1, min(MAX_ENCODER_THREADS, math.ceil(1.5 * len(os.sched_getaffinity(0)))))


@dataclass(frozen=True)
class Options:
    ladder: tuple[int, ...] = (360, 720, 1080)
    preset: str = "veryfast"
    # One GOP a segment: a player's first segment on a 2 Mbit/s link (360p) is ~0.9 s of download,
    # not ~1.8 s, which is what keeps the start under 3 s there; keyframes still align.
    segment_s: float = 2.0
    gop_s: float = 2.0
    threads: int = 0
    thumbnail_width: int = 160
    # Thumbnails every this many seconds, at least; long lessons get sparser ones (max_thumbnails).
    thumbnail_interval_s: float = 5.0
    max_thumbnails: int = 600
    sheet_columns: int = 10
    sheet_rows: int = 10
    # Keep the frames of new screens under screens/ for the screen-text OCR (see isolated.py).
    screen_frames: bool = False


@dataclass
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    # Measured on the segments once made (bit/s): the peak segment's rate and the mean.
    peak_bps: int = 0
    average_bps: int = 0

    @property
    def bandwidth(self) -> int:
        """What the master playlist announces: the peak segment's rate once measured (a player that
        trusts a lower figure picks a rung the link cannot carry, and stalls), else an estimate."""
        if self.peak_bps:
            return self.peak_bps
        return int((self.video_kbps * 1.25 + self.audio_kbps) * 1000 * 1.05)


@dataclass
class Storyboard:
    interval_s: float
    tile_width: int
    tile_height: int
    columns: int
    rows: int
    count: int = 0
    sheets: int = 0


@dataclass
class Result:
    duration_s: float
    frame_rate: float
    has_audio: bool
    renditions: list[Rendition]
    storyboard: Storyboard | None
    broken_packets: int = 0
    files: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def nominal_kbps(height: int) -> int:
    if height in NOMINAL_KBPS:
        return NOMINAL_KBPS[height]
    return max(150, round(NOMINAL_KBPS[1080] * height * height / (1080 * 1080)))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan_renditions(display_width: int, display_height: int, ladder: tuple[int, ...]) -> list[Rendition]:
    """The ladder's rungs the source can fill (never upscaled); a rung is the short side, so a
    portrait 1080×1920 phone video gets 1080p too. A source below the lowest rung gets one
    rendition at its own size, with even dimensions as H.264 4:2:0 wants."""
    short, long = sorted((display_width, display_height))
    rungs = sorted({rung for rung in ladder if rung <= short}) or [max(2, short - short % 2)]
    renditions = []
    for rung in rungs:
        scaled_long = _even(long * rung / short)
        width, height = (scaled_long, rung) if display_width >= display_height else (rung, scaled_long)
        renditions.append(
            Rendition(f"{rung}p", _even(width), _even(height), nominal_kbps(rung), 128 if rung >= 720 else 64)
        )
    return renditions


def output_frame_rate(stream: VideoStream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0 or rate > 240:
        return Fraction(25)
    rate = Fraction(rate).limit_denominator(1001)
    while rate > MAX_FRAME_RATE:
        # 50/60 fps phone video halves to 25/30; anything else odd is capped.
        rate = rate / 2 if rate / 2 >= 20 else MAX_FRAME_RATE
    return rate


class _Upright:
    """Turns decoded frames the way the display matrix says (phones store portrait video sideways)
    and applies a non-square sample aspect ratio, once for all renditions."""

    _FILTERS: ClassVar[dict[int, list[str]]] = {
        90: ["transpose=cclock"],
        180: ["hflip", "vflip"],
        270: ["transpose=clock"],
    }

    def __init__(self, stream: VideoStream, first: VideoFrame) -> None:
        self.rotation = round(first.rotation) % 360
        steps = self._FILTERS.get(self.rotation, [])
        self.graph: Graph | None = None
        if steps:
            graph = Graph()
            source = graph.add_buffer(template=stream)
            previous = source
            for step in steps:
                name, _, args = step.partition("=")
                node = graph.add(name, args or None)
                previous.link_to(node)
                previous = node
            sink = graph.add("buffersink")
            previous.link_to(sink)
            graph.configure()
            self.graph = graph

    def __call__(self, frame: VideoFrame) -> VideoFrame:
        if self.graph is None:
            return frame
        self.graph.vpush(frame)
        upright = self.graph.vpull()
        return upright


def display_size(stream: VideoStream, frame: VideoFrame) -> tuple[int, int]:
    width, height = frame.width, frame.height
    ratio = stream.sample_aspect_ratio
    if ratio and ratio > 0 and ratio != 1:
        width = max(2, round(width * ratio))
    if round(frame.rotation) % 180 == 90:
        width, height = height, width
    return width, height


class _Output:
    """One rendition: an HLS muxer with its H.264 and AAC encoders."""

    def __init__(
        self,
        directory: Path,
        rendition: Rendition,
        *,
        rate: Fraction,
        options: Options,
        with_audio: bool,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.rendition = rendition
        gop = max(1, round(float(rate) * options.gop_s))
        self.container: OutputContainer = av.open(
            str(directory / MEDIA_PLAYLIST),
            mode="w",
            format="hls",
            options={
                "hls_time": f"{options.segment_s:g}",
                "hls_playlist_type": "vod",
                "hls_list_size": "0",
                "hls_segment_type": "mpegts",
                "hls_segment_filename": str(directory / "seg%05d.ts"),
                "hls_flags": "independent_segments",
            },
        )
        video = self.container.add_stream("libx264", rate=rate)
        assert isinstance(video, VideoStream)
        video.width, video.height, video.pix_fmt = rendition.width, rendition.height, "yuv420p"
        video.bit_rate = rendition.video_kbps * 1000
        video.time_base = 1 / rate
        video.codec_context.time_base = 1 / rate
        # Frame threads, as ffmpeg gives libx264 (threads=3, lookahead_threads=1 on 2 CPUs): PyAV
        # opens every codec with slice threading, which libx264 takes for sliced threads (slices=2
        # in every picture, each frame finished before the call returns), not the command's encode.
        video.codec_context.thread_type = "FRAME"
        video.options = {
            "preset": options.preset,
            "profile": "high" if rendition.height >= 720 else "main",
            "maxrate": f"{int(rendition.video_kbps * 1.5)}k",
            "bufsize": f"{int(rendition.video_kbps * 3)}k",
            "threads": str(options.threads or encoder_threads()),
            # Keyframes exactly every GOP, never at scene cuts: aligned across renditions.
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0",
        }
        self.video = video
        # One scaler kept for the whole run: a new one per frame would rebuild swscale's context.
        self.scaler = VideoReformatter()
        self.audio: AudioStream | None = None
        if with_audio:
            audio = self.container.add_stream("aac", rate=AUDIO_RATE)
            assert isinstance(audio, AudioStream)
            audio.bit_rate = rendition.audio_kbps * 1000
            audio.layout = "stereo"
            self.audio = audio

    def encode_video(self, frame: VideoFrame | None, pts: int = 0) -> None:
        if frame is None:
            self.container.mux(self.video.encode(None))
            return
        # Through the rendition's own reformatter: frame.reformat would make a new one (and a new
        # swscale context) for every frame and rendition, which cost twice the scaling itself.
        scaled = self.scaler.reformat(
            frame,
            width=self.rendition.width,
            height=self.rendition.height,
            format="yuv420p",
            interpolation="BICUBIC",
        )
        scaled.pts = pts
        scaled.time_base = self.video.codec_context.time_base
        self.container.mux(self.video.encode(scaled))

    def encode_audio(self, frame: av.AudioFrame | None) -> None:
        if self.audio is not None:
            self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        self.container.close()


# Frames waiting per rendition: enough to ride out one rendition's slower moments (a keyframe),
# few enough that 1080p frames waiting stay within tens of MiB.
_FRAMES_QUEUED = 8


class _EncodingThread:
    """One rendition's scaling, encoding and muxing on a thread of its own. swscale, libx264 and the
    muxer run without the GIL, so the renditions proceed side by side on every CPU while the decoding
    thread goes on, as ffmpeg's filter and encoder threads do (one Python thread feeding them in turn
    left a CPU idle: 0.75x ffmpeg's speed on HEVC). Each item carries its own pts, since a repeated
    frame is the same object in several slots."""

    def __init__(self, output: _Output) -> None:
        self.output = output
        self.queue: queue.Queue[tuple[VideoFrame | av.AudioFrame, int] | None] = queue.Queue(
            maxsize=_FRAMES_QUEUED
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name=f"encode-{output.rendition.name}", daemon=True)
        self.thread.start()

    def put(self, frame: VideoFrame | av.AudioFrame, pts: int = 0) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((frame, pts))

    def finish(self) -> None:
        """Flush the encoders and close the rendition (raising what failed on the thread)."""
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                frame, pts = item
                if isinstance(frame, VideoFrame):
                    self.output.encode_video(frame, pts)
                else:
                    self.output.encode_audio(frame)
            self.output.encode_video(None)
            self.output.encode_audio(None)
            self.output.close()
        except BaseException as exc:
            self.error = exc
            # Keep taking what the decoding thread sends, so it never waits on a full queue.
            while self.queue.get() is not None:
                pass


class _StoryboardMaker:
    def __init__(
        self, directory: Path, display: tuple[int, int], duration_s: float, options: Options
    ) -> None:
        width, height = display
        tile_width = min(options.thumbnail_width, _even(width))
        tile_height = _even(height * tile_width / width)
        interval = options.thumbnail_interval_s
        if duration_s > 0 and duration_s / interval > options.max_thumbnails:
            interval = math.ceil(duration_s / options.max_thumbnails)
        self.board = Storyboard(interval, tile_width, tile_height, options.sheet_columns, options.sheet_rows)
        self.directory = directory
        self.sheet: Image.Image | None = None
        self.next_at = 0.0

    def offer(self, frame: VideoFrame, time_s: float) -> None:
        if time_s + 1e-6 < self.next_at:
            return
        board = self.board
        per_sheet = board.columns * board.rows
        slot = board.count % per_sheet
        if slot == 0:
            self._flush()
            self.sheet = Image.new("RGB", (board.tile_width * board.columns, board.tile_height * board.rows))
        thumbnail = frame.reformat(
            width=board.tile_width, height=board.tile_height, format="rgb24"
        ).to_image()  # type: ignore[no-untyped-call]
        assert self.sheet is not None
        self.sheet.paste(
            thumbnail,
            ((slot % board.columns) * board.tile_width, (slot // board.columns) * board.tile_height),
        )
        board.count += 1
        self.next_at = board.count * board.interval_s

    def _flush(self) -> None:
        if self.sheet is None:
            return
        board = self.board
        used_rows = math.ceil(((board.count - 1) % (board.columns * board.rows) + 1) / board.columns)
        sheet = self.sheet.crop((0, 0, self.sheet.width, used_rows * board.tile_height))
        self.directory.mkdir(parents=True, exist_ok=True)
        sheet.save(self.directory / sheet_name(board.sheets), format="JPEG", quality=70, optimize=True)
        board.sheets += 1
        self.sheet = None

    def finish(self, duration_s: float) -> Storyboard | None:
        self._flush()
        board = self.board
        if board.count == 0:
            return None
        (self.directory / STORYBOARD_TRACK).write_text(storyboard_vtt(board, duration_s), encoding="utf-8")
        return board


def sheet_name(index: int) -> str:
    return f"sheet{index:04d}.jpg"


def _vtt_time(seconds: float) -> str:
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def storyboard_vtt(board: Storyboard, duration_s: float) -> str:
    """The WebVTT thumbnail track players know (JW Player, Video.js, Plyr): cue text is
    `sheet.jpg#xywh=x,y,w,h`."""
    per_sheet = board.columns * board.rows
    lines = ["WEBVTT", ""]
    for index in range(board.count):
        start = index * board.interval_s
        end = min((index + 1) * board.interval_s, max(duration_s, start + 0.001))
        slot = index % per_sheet
        x, y = (slot % board.columns) * board.tile_width, (slot // board.columns) * board.tile_height
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"{sheet_name(index // per_sheet)}#xywh={x},{y},{board.tile_width},{board.tile_height}",
            "",
        ]
    return "\n".join(lines)


def measure_segments(directory: Path, rendition: Rendition) -> None:
    """The rendition's peak and mean bit rates from its media playlist's segments."""
    durations: list[tuple[float, str]] = []
    duration: float | None = None
    for line in (directory / MEDIA_PLAYLIST).read_text(encoding="utf-8").splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            durations.append((duration, line))
            duration = None
    sizes = [(seconds, (directory / name).stat().st_size * 8) for seconds, name in durations]
    # A last segment of a fraction of a second would overstate the rate.
    rates = [bits / seconds for seconds, bits in sizes if seconds > 0.5]
    total_s = sum(seconds for seconds, _ in sizes)
    if not rates or total_s <= 0:
        return
    rendition.peak_bps = math.ceil(max(rates))
    rendition.average_bps = math.ceil(sum(bits for _, bits in sizes) / total_s)


def master_playlist(renditions: list[Rendition], frame_rate: float, has_audio: bool) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        profile = "avc1.640028" if rendition.height >= 720 else "avc1.4d401f"
        codecs = f"{profile},mp4a.40.2" if has_audio else profile
        average = f"AVERAGE-BANDWIDTH={rendition.average_bps}," if rendition.average_bps else ""
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},{average}"
            f"RESOLUTION={rendition.width}x{rendition.height},"
            f'FRAME-RATE={frame_rate:.3f},CODECS="{codecs}",NAME="{rendition.name}"'
        )
        lines.append(f"{rendition.name}/{MEDIA_PLAYLIST}")
    return "\n".join(lines) + "\n"


def transcode(
    source: Path,
    output: Path,
    options: Options,
    *,
    progress: Callable[[float], None] = lambda fraction: None,
    announce: Callable[[float], None] = lambda duration_s: None,
    observe: FrameObserver | None = None,
) -> Result:
    """Make every rendition and the storyboard of `source` under `output`, in one decode."""
    try:
        container = av.open(str(source), mode="r")
    except Exception as exc:
        raise TranscodeError("The file is not a video that can be read") from exc
    with container:
        video_streams = [
            s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not video_streams:
            raise TranscodeError("The file has no video track")
        video_in = video_streams[0]
        video_in.thread_type = "AUTO"
        audio_in = container.streams.audio[0] if container.streams.audio else None
        header_duration = (
            container.duration / av.time_base if container.duration and container.duration > 0 else 0.0
        )
        rate = output_frame_rate(video_in)
        # Before the long part: what the header claims, so the parent can size the time limit.
        announce(header_duration)
        run = _Run(container, video_in, audio_in, output, options, rate, header_duration, progress)
        run.observe = observe
        return run.run()


class _Run:
    def __init__(
        self,
        container: InputContainer,
        video_in: VideoStream,
        audio_in: AudioStream | None,
        output: Path,
        options: Options,
        rate: Fraction,
        header_duration: float,
        progress: Callable[[float], None],
    ) -> None:
        self.container = container
        self.video_in = video_in
        self.audio_in = audio_in
        self.output = output
        self.options = options
        self.rate = rate
        self.header_duration = header_duration
        self.progress = progress
        self.outputs: list[_Output] = []
        self.encoders: list[_EncodingThread] = []
        self.upright: _Upright | None = None
        self.storyboard: _StoryboardMaker | None = None
        self.start_s: float | None = None
        self.next_index = 0
        self.last_frame: VideoFrame | None = None
        self.resampler = AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self.audio_samples = 0
        self.pending_audio: list[av.AudioFrame] = []
        self.broken = 0
        self.packets = 0
        self.renditions: list[Rendition] = []
        self.last_reported = -1.0
        self.observe: FrameObserver | None = None

    def _open_outputs(self, frame: VideoFrame) -> None:
        self.upright = _Upright(self.video_in, frame)
        display = display_size(self.video_in, frame)
        self.renditions = plan_renditions(*display, self.options.ladder)
        self.outputs = [
            _Output(
                self.output / rendition.name,
                rendition,
                rate=self.rate,
                options=self.options,
                with_audio=self.audio_in is not None,
            )
            for rendition in self.renditions
        ]
        self.encoders = [_EncodingThread(output) for output in self.outputs]
        self.storyboard = _StoryboardMaker(
            self.output / "storyboard", display, self.header_duration, self.options
        )
        for pending in self.pending_audio:
            self._emit_audio(pending)
        self.pending_audio = []

    def _emit_video(self, frame: VideoFrame, time_s: float) -> None:
        """Constant frame rate: a frame takes the output slot nearest its instant; slots it skipped
        repeat the frame before, frames arriving faster than slots are dropped. Variable-frame-rate
        phone video thus neither drifts nor breaks the fixed GOP."""
        assert self.start_s is not None
        target = round((time_s - self.start_s) * self.rate)
        if target < self.next_index:
            return
        upright = self.upright(frame) if self.upright else frame
        # The decoder leaves the source's picture type on the frame, and libx264 obeys it: the
        # renditions copied the recording's I/P/B pattern (all P from a phone's H.264, a fixed
        # BBBP from HEVC) instead of making their own (B-frames where they pay, as ffmpeg's do).
        upright.pict_type = PictureType.NONE
        if self.observe is not None:
            self.observe(upright, float(target / self.rate))
        while self.next_index < target:
            self._write_slot(self.last_frame or upright)
        self._write_slot(upright)
        self.last_frame = upright

    def _write_slot(self, frame: VideoFrame) -> None:
        slot_time = float(self.next_index / self.rate)
        # The frame's own pts is left alone: the rendition of the source's size encodes this very
        # object on its thread (the scaler hands it back unchanged) and sets it there.
        for encoder in self.encoders:
            encoder.put(frame, self.next_index)
        if self.storyboard is not None:
            self.storyboard.offer(frame, slot_time)
        self.next_index += 1
        if self.header_duration > 0:
            fraction = min(0.99, slot_time / self.header_duration)
            if fraction - self.last_reported >= 0.01:
                self.last_reported = fraction
                self.progress(fraction)

    def _emit_audio(self, frame: av.AudioFrame) -> None:
        if not self.outputs:
            self.pending_audio.append(frame)
            return
        assert self.start_s is not None
        for resampled in self.resampler.resample(frame):
            if self.audio_samples == 0 and frame.time is not None:
                # Audio starting after the picture keeps its offset, so lips stay in sync.
                self.audio_samples = max(0, round((frame.time - self.start_s) * AUDIO_RATE))
            resampled.pts = self.audio_samples
            resampled.time_base = Fraction(1, AUDIO_RATE)
            self.audio_samples += resampled.samples
            for encoder in self.encoders:
                encoder.put(resampled)

    def run(self) -> Result:
        try:
            return self._run()
        finally:
            # On every way out, the threads end (an error raised mid-way leaves none waiting).
            for encoder in self.encoders:
                if encoder.thread.is_alive():
                    encoder.queue.put(None)
                    encoder.thread.join()

    def _run(self) -> Result:
        streams: list[Any] = [self.video_in] + ([self.audio_in] if self.audio_in is not None else [])
        try:
            # Demuxing ends with an empty packet per stream, which flushes its decoder.
            for packet in self.container.demux(*streams):
                self.packets += 1
                try:
                    frames = packet.decode()
                except (av.InvalidDataError, av.error.PatchWelcomeError, ValueError):
                    self._broken()
                    continue
                for frame in frames:
                    self._take(frame)
        except av.FFmpegError as exc:
            # A container broken half way: keep what came before, if anything did.
            if self.next_index == 0:
                raise TranscodeError("The video could not be read") from exc
            self.broken += 1
        if not self.outputs or self.next_index == 0:
            raise TranscodeError("The video track has no picture that can be decoded")
        for encoder in self.encoders:
            encoder.finish()
        for output in self.outputs:
            measure_segments(self.output / output.rendition.name, output.rendition)
        duration = float(self.next_index / self.rate)
        storyboard = self.storyboard.finish(duration) if self.storyboard else None
        has_audio = self.audio_in is not None
        (self.output / MASTER_PLAYLIST).write_text(
            master_playlist(self.renditions, float(self.rate), has_audio), encoding="utf-8"
        )
        files = sorted(
            str(path.relative_to(self.output)) for path in self.output.rglob("*") if path.is_file()
        )
        self.progress(1.0)
        return Result(duration, float(self.rate), has_audio, self.renditions, storyboard, self.broken, files)

    def _broken(self) -> None:
        self.broken += 1
        if self.broken >= MIN_BROKEN_PACKETS and self.broken > self.packets * MAX_BROKEN_PACKET_SHARE:
            raise TranscodeError(
                f"The video is damaged: {self.broken} of its first {self.packets} packets "
                "could not be decoded"
            )

    def _take(self, frame: Any) -> None:
        if isinstance(frame, VideoFrame):
            time_s = frame.time
            if time_s is None:
                time_s = (self.start_s or 0.0) + float(self.next_index / self.rate)
            if self.start_s is None:
                self.start_s = time_s
                self._open_outputs(frame)
            if time_s < self.start_s:
                return
            self._emit_video(frame, time_s)
        elif isinstance(frame, av.AudioFrame):
            if self.start_s is None:
                # Audio before the first picture waits for it (and its start time).
                self.pending_audio.append(frame)
                return
            self._emit_audio(frame)
