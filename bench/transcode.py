"""Lesson video renditions: the project's pipeline against Debian's `ffmpeg` doing the same ladder,
and playback of the original against HLS in Chromium on a throttled link.

    .venv/bin/python bench/transcode.py [--duration 30] [--codec both] [--skip-playback] [--watch 60]
        [--kbps 2000]

About 5 minutes on an idle 2-CPU machine with the defaults. It ends with the goals: pipeline at least
0.9× the command's speed (CPU time, and wall time), HLS 自动 at 2 Mbit/s first frame in under 3 s
and no stall over the watched 60 s.

Transcode: a generated 1080p30 H.264 + AAC clip and an HEVC one (made with Debian's `ffmpeg`, whose
testsrc2 pattern moves like a real picture) go through `python -m services.video.isolated` (the
child process the worker runs: one decode, 360p/720p/1080p H.264 + AAC HLS, storyboard) and through
one `ffmpeg` command making the same three renditions with the same encoder settings (preset,
bit rates, VBV, fixed GOP, ~4 s HLS segments) plus the same storyboard tiles. Printed: seconds, ×
realtime (media seconds per wall second) of each, their ratio (pipeline ÷ command), and the peak
RSS of each process (ru_maxrss of the waited child).

Playback: `jiaoyun serve` (embedded) with the real ladder, the 1080p clip uploaded as a lesson and
transcoded, then Debian's Chromium opens the lesson page with the network emulated at --kbps
(DevTools protocol) and plays it muted for --watch seconds, once on the original (progressive
1080p) and once on HLS 自动: time to first frame and total stall time (waiting → playing).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.video.transcode import Options, plan_renditions  # noqa: E402

FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"


def make_clip(path: Path, duration: float, codec: str) -> None:
    # ultrafast: only the making of the input is quicker; both sides decode the same file.
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "17M"]
    if codec == "hevc":
        video = [
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-b:v",
            "8M",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "log-level=error",
        ]
    subprocess.run(
        [
            FFMPEG, "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={duration}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
            *video, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(path),
        ],
        check=True,
    )  # fmt: skip


def run_measured(argv: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, the child and its threads) and peak RSS (KiB) of a
    child process. CPU time is the fairer figure on a shared machine: it does not count the time
    other processes held the CPUs."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(
            f"{argv[0]} failed: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
        )
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def ffmpeg_ladder(source: Path, output: Path, options: Options) -> list[str]:
    """The same ladder in one ffmpeg run: one decode, split, scaled per rendition, same x264 settings."""
    renditions = plan_renditions(1920, 1080, options.ladder)
    gop = round(30 * options.gop_s)
    split = f"[0:v]split={len(renditions) + 1}" + "".join(
        f"[v{index}]" for index in range(len(renditions) + 1)
    )
    scales = [f"[v{index}]scale={r.width}:{r.height}[s{index}]" for index, r in enumerate(renditions)]
    board = (
        f"[v{len(renditions)}]fps=1/{options.thumbnail_interval_s:g},scale={options.thumbnail_width}:-2,"
        f"tile={options.sheet_columns}x{options.sheet_rows}[board]"
    )
    argv = [
        FFMPEG,
        "-v",
        "error",
        "-y",
        "-i",
        str(source),
        "-filter_complex",
        ";".join([split, *scales, board]),
    ]
    for index, rendition in enumerate(renditions):
        directory = output / rendition.name
        directory.mkdir(parents=True, exist_ok=True)
        argv += [
            "-map", f"[s{index}]", "-map", "0:a",
            "-c:v", "libx264", "-preset", options.preset, "-b:v", f"{rendition.video_kbps}k",
            "-maxrate", f"{int(rendition.video_kbps * 1.5)}k", "-bufsize", f"{rendition.video_kbps * 3}k",
            "-profile:v", "high" if rendition.height >= 720 else "main",
            "-x264-params", f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0",
            "-c:a", "aac", "-b:a", f"{rendition.audio_kbps}k", "-ar", "48000", "-ac", "2",
            "-f", "hls", "-hls_time", f"{options.segment_s:g}", "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(directory / "seg%05d.ts"), str(directory / "index.m3u8"),
        ]  # fmt: skip
    (output / "storyboard").mkdir(parents=True, exist_ok=True)
    argv += ["-map", "[board]", "-q:v", "5", str(output / "storyboard" / "sheet%04d.jpg")]
    return argv


def transcode_figures(workdir: Path, duration: float, codecs: tuple[str, ...]) -> dict[str, Any]:
    options = Options()
    figures: dict[str, Any] = {}
    for codec in codecs:
        source = workdir / f"lesson-{codec}.mp4"
        make_clip(source, duration, codec)
        pipeline_s, pipeline_cpu, pipeline_rss = run_measured(
            [sys.executable, "-m", "services.video.isolated", str(source), str(workdir / f"out-{codec}"),
             json.dumps(asdict(options))]
        )  # fmt: skip
        command_s, command_cpu, command_rss = run_measured(
            ffmpeg_ladder(source, workdir / f"ffmpeg-{codec}", options)
        )
        figures[codec] = {
            "pipeline_s": round(pipeline_s, 2),
            "pipeline_cpu_s": round(pipeline_cpu, 2),
            "pipeline_x_realtime": round(duration / pipeline_s, 2),
            "pipeline_peak_rss_mib": round(pipeline_rss / 1024),
            "ffmpeg_s": round(command_s, 2),
            "ffmpeg_cpu_s": round(command_cpu, 2),
            "ffmpeg_x_realtime": round(duration / command_s, 2),
            "ffmpeg_peak_rss_mib": round(command_rss / 1024),
            "speed_ratio": round(command_s / pipeline_s, 3),
            "cpu_ratio": round(command_cpu / pipeline_cpu, 3),
        }
        print(f"{codec}: {json.dumps(figures[codec])}", flush=True)
    return figures


PLAYBACK_PROBE = """
(watch) => new Promise((resolve) => {
  // Times from the navigation's start (performance.now()): what a teacher opening the lesson waits,
  // page, scripts (hls.js) and playlists included. The viewer presses play at once; on HLS 自动 once
  // the page has put the player on HLS (before, a press plays the original and the switch follows).
  const video = document.getElementById('lesson-video');
  const wanted = video.dataset.wanted;
  let first = null, stalled = 0, waitingSince = null;
  video.addEventListener('waiting', () => {
    if (first !== null && waitingSince === null) waitingSince = performance.now();
  });
  video.addEventListener('playing', () => {
    if (waitingSince !== null) { stalled += performance.now() - waitingSince; waitingSince = null; }
  });
  const tick = () => {
    const now = performance.now();
    const onWanted = video.dataset.source === wanted;
    if (first === null && video.currentTime > 0 && !video.paused && onWanted) first = now;
    if (first !== null && now - first >= watch * 1000) {
      if (waitingSince !== null) stalled += now - waitingSince;
      // What the link carried before the first frame, for --timings.
      const entries = performance.getEntriesByType('navigation');
      const loads = entries.concat(performance.getEntriesByType('resource'))
        .filter((entry) => entry.startTime < first)
        .map((entry) => [entry.name.replace(location.origin, '').split('?')[0].slice(-60),
                         Math.round(entry.startTime), Math.round(entry.responseEnd), entry.transferSize]);
      resolve({ first_frame_s: first / 1000, stalled_s: stalled / 1000, position_s: video.currentTime,
                source: video.dataset.source, level: video.dataset.level || null, loads });
      return;
    }
    if (video.paused && !video.ended && onWanted) {
      video.muted = true; video.play().catch(() => {});
    }
    setTimeout(tick, 20);
  };
  tick();
})
"""


def playback_figures(
    workdir: Path, duration: float, watch: float, kbps: int, *, timings: bool = False
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.live import free_ports, start_api
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.web.site import SECRET_KEY, Site, _sign_up_district

    source = workdir / "lesson-playback.mp4"
    make_clip(source, duration, "h264")
    port = free_ports(1)[0]
    env = {
        "JIAOYUN_DATA_DIR": str(workdir / "data"),
        "JIAOYUN_SECRET_KEY": SECRET_KEY,
        "JIAOYUN_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "JIAOYUN_WORKER_POLL_INTERVAL_S": "0.2",
        "JIAOYUN_MAX_VIDEO_MB": "4096",
        # The ladder is made as in production but with the fastest preset: the sizes of the segments
        # follow the bit rates (and their VBV caps), which is what playback on a slow link is about.
        "JIAOYUN_VIDEO_PRESET": "ultrafast",
    }
    server = start_api(env, workdir, port=port, name="bench-playback")
    site = Site("embedded", server)
    figures: dict[str, Any] = {}
    try:
        _sign_up_district(site, env)
        with site.api("teacher") as api:
            metadata = {"title": "1080p 课例", "resource_type": "lesson_record", "status": "published"}
            with source.open("rb") as content:
                response = api.post(
                    "/api/v1/resources",
                    files={
                        "metadata": (None, json.dumps(metadata), "application/json"),
                        "file": ("课例.mp4", content),
                    },
                    timeout=600,
                )
            response.raise_for_status()
            resource = response.json()
            file_id = resource["versions"][0]["files"][0]["id"]
            started = time.monotonic()
            while True:
                status = api.get(f"/api/v1/resources/{resource['id']}/files/{file_id}/video").json()
                if status["status"] in ("ready", "failed"):
                    break
                time.sleep(1)
            print(f"renditions {status['status']} after {time.monotonic() - started:.0f} s", flush=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for choice in ("original", "auto"):
                context = browser.new_context(base_url=site.url, locale="zh-CN")
                context.add_init_script(f"localStorage.setItem('jiaoyun.quality', '{choice}')")
                page = context.new_page()
                who = site.people["colleague"]
                page.goto("/login")
                page.get_by_label("用户名").fill(who.username)
                page.get_by_label("密码").fill(who.password)
                page.get_by_role("button", name="登录").click()
                page.wait_for_selector(".who")
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": 40,
                        "downloadThroughput": kbps * 1000 / 8,
                        "uploadThroughput": 125_000,
                    },
                )
                page.goto(f"/resources/{resource['id']}", wait_until="commit")
                page.wait_for_selector("#lesson-video", state="attached")
                wanted = "original" if choice == "original" else "hls"
                page.eval_on_selector("#lesson-video", f"video => {{ video.dataset.wanted = '{wanted}'; }}")
                result = page.evaluate(PLAYBACK_PROBE, watch)
                loads = result.pop("loads")
                figures[choice] = {
                    key: round(value, 2) if isinstance(value, float) else value
                    for key, value in result.items()
                }
                print(f"playback {choice} at {kbps} kbit/s: {json.dumps(figures[choice])}", flush=True)
                if timings:
                    print("  loaded before the first frame (path, start ms, end ms, bytes):")
                    for load in sorted(loads, key=lambda item: item[1]):
                        print(f"    {load[0]:<60} {load[1]:>6} {load[2]:>6} {load[3]:>9}")
                context.close()
            browser.close()
    finally:
        server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds of each clip transcoded by both sides"
    )
    parser.add_argument("--watch", type=float, default=60.0, help="seconds of playback measured")
    parser.add_argument("--kbps", type=int, default=2000, help="emulated download throughput")
    parser.add_argument("--skip-transcode", action="store_true")
    parser.add_argument(
        "--codec", choices=("h264", "hevc", "both"), default="both", help="which source clip to transcode"
    )
    parser.add_argument("--timings", action="store_true", help="print what loaded before the first frame")
    parser.add_argument("--skip-playback", action="store_true")
    arguments = parser.parse_args()
    started = time.monotonic()
    transcoded: dict[str, Any] = {}
    played: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jiaoyun-bench-transcode-") as temporary:
        workdir = Path(temporary)
        if not arguments.skip_transcode:
            codecs = ("h264", "hevc") if arguments.codec == "both" else (arguments.codec,)
            transcoded = transcode_figures(workdir, arguments.duration, codecs)
        if not arguments.skip_playback:
            # The played clip outlasts the watch, so the end of the video is no stall.
            played = playback_figures(
                workdir, arguments.watch + 10, arguments.watch, arguments.kbps, timings=arguments.timings
            )
    print(f"\ngoals ({time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f}):")
    for codec, figures in transcoded.items():
        for ratio in ("cpu_ratio", "speed_ratio"):
            met = "met" if figures[ratio] >= 0.9 else "NOT met"
            print(f"  {codec} transcode {ratio} {figures[ratio]:.2f} (goal >= 0.9): {met}")
    if "auto" in played:
        hls = played["auto"]
        print(
            f"  HLS first frame {hls['first_frame_s']:.2f} s (goal < 3 s): "
            f"{'met' if hls['first_frame_s'] < 3 else 'NOT met'}"
        )
        print(
            f"  HLS stalled {hls['stalled_s']:.2f} s over {arguments.watch:g} s (goal: none): "
            f"{'met' if hls['stalled_s'] == 0 else 'NOT met'}"
        )
    if "original" in played:
        original = played["original"]
        print(
            f"  original: first frame {original['first_frame_s']:.2f} s, "
            f"stalled {original['stalled_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
