// The lesson player's streaming: the original plays at once; once the worker has made the HLS
// ladder the player switches to it (hls.js, vendored, where the browser has no native HLS), with a
// quality menu 自动 / 360p / 720p / 1080p / 原画. While the ladder is being made the page shows how
// far the transcode got. The storyboard gives a preview when hovering the scrub bar and a thumbnail
// beside each review comment. Seeking (comments, transcript, #t=) stays resource.js's, on the
// same <video> element, whatever its source.
//
// On a slow school link the first seconds decide: the page holds back the original (preload="none")
// until it knows whether the ladder is ready, so the original's first megabytes do not compete with
// hls.js and the first segments; hls.js, fetched beside the status request, starts on the lowest rung (auto never above
// the player's size), and the storyboard's sprite sheets wait until the lesson plays.

import { clock } from "./api.js";

const video = document.getElementById("lesson-video");
const POLL_MS = 3000;
// The viewer's last quality choice, kept for the next lesson (a slow school link stays on 360p).
const QUALITY_KEY = "jiaoyun.quality";
// The storyboard waits for playback to start, or this long at most.
const STORYBOARD_DELAY_MS = 8000;

let hls = null;
let status = null;
let current = "original";

function startPosition() {
  if (video.readyState >= 1) return video.currentTime;
  const start = parseFloat(video.dataset.start);
  return Number.isNaN(start) ? 0 : start;
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) return null;
  return response.json();
}

let hlsJs = null;

function loadHlsJs() {
  if (!hlsJs) {
    hlsJs = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = video.dataset.hlsJs;
      script.onload = () => resolve(window.Hls);
      script.onerror = reject;
      document.head.append(script);
    });
  }
  return hlsJs;
}

/** Put the player on another source, keeping its position and whether it was playing. A seek asked
 * for while the source was switching (a comment or screen clicked meanwhile) wins over the position. */
function resumeAfterSwitch(position, playing) {
  const restore = () => {
    const asked = parseFloat(video.dataset.pendingSeek);
    delete video.dataset.pendingSeek;
    delete video.dataset.switching;
    const target = Number.isNaN(asked) ? position : asked;
    if (Math.abs(video.currentTime - target) > 0.5) video.currentTime = target;
    if (playing) video.play().catch(() => {});
  };
  if (video.readyState >= 1) restore();
  else video.addEventListener("loadedmetadata", restore, { once: true });
}

async function useSource(choice) {
  video.dataset.switching = "true";
  const position = startPosition();
  const playing = !video.paused && !video.ended;
  const levels = status ? status.renditions.map((item) => item.name) : [];
  if (choice === "original") {
    if (hls) {
      hls.destroy();
      hls = null;
    }
    loadMetadata();
    video.src = video.dataset.originalSrc;
    resumeAfterSwitch(position, playing);
  } else {
    const level = choice === "auto" ? -1 : levels.indexOf(choice);
    const Hls = await loadHlsJs().catch(() => null);
    if (Hls && Hls.isSupported()) {
      if (!hls) {
        // No worker: the pages' policy allows no script from blob: URLs; transmuxing stays on the page.
        hls = new Hls({
          startPosition: position,
          // Auto starts on the master playlist's first rung, the lowest (startLevel -1 would fetch
          // a first segment only to measure the link, then fetch it again), then measures; a small
          // player never pulls 1080p.
          capLevelToPlayerSize: true,
          enableWorker: false,
        });
        hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
          video.dataset.level = levels[data.level] || "";
          showLevel();
        });
        hls.on(Hls.Events.MANIFEST_PARSED, () => {
          // Nothing is buffered yet: a chosen rung is where loading starts. (currentLevel would
          // switch "immediately", dropping the first segment being fetched and fetching it again.)
          if (level >= 0) hls.loadLevel = level;
          resumeAfterSwitch(position, playing);
        });
        hls.loadSource(status.master_url);
        hls.attachMedia(video);
      } else {
        // Switching within the ladder: hls.js changes at the next segment, no reload.
        hls.currentLevel = level;
        delete video.dataset.switching;
      }
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      const master = status.master_url;
      loadMetadata();
      video.src = level < 0 ? master : master.replace(/master\.m3u8/, `${levels[level]}/index.m3u8`);
      video.dataset.level = level < 0 ? "" : levels[level];
      resumeAfterSwitch(position, playing);
    } else {
      return useSource("original");
    }
  }
  current = choice;
  video.dataset.source = choice === "original" ? "original" : "hls";
  const menu = document.querySelector("[data-quality]");
  if (menu) menu.value = choice;
  showLevel();
}

function showLevel() {
  const label = document.querySelector("[data-quality-current]");
  if (!label) return;
  label.textContent = current === "auto" && video.dataset.level ? `当前 ${video.dataset.level}` : "";
}

function qualityMenu() {
  const wrapper = document.createElement("div");
  wrapper.className = "quality";
  const label = document.createElement("label");
  label.htmlFor = "quality-menu";
  label.textContent = "清晰度";
  const menu = document.createElement("select");
  menu.id = "quality-menu";
  menu.dataset.quality = "";
  const options = [["auto", "自动"], ...status.renditions.map((item) => [item.name, item.name]), ["original", "原画"]];
  for (const [value, text] of options) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    menu.append(option);
  }
  menu.addEventListener("change", () => {
    localStorage.setItem(QUALITY_KEY, menu.value);
    useSource(menu.value);
  });
  const now = document.createElement("span");
  now.className = "meta";
  now.dataset.qualityCurrent = "";
  now.setAttribute("aria-live", "polite");
  wrapper.append(label, menu, now);
  return wrapper;
}

function statusLine() {
  let line = document.querySelector("[data-rendition-status]");
  if (!line) {
    line = document.createElement("p");
    line.className = "notice";
    line.setAttribute("role", "status");
    line.dataset.renditionStatus = "";
    video.closest("section").append(line);
  }
  return line;
}

/** The element's own source is what plays (the original, or native HLS): let the browser fetch its
 * metadata now. */
function loadMetadata() {
  if (video.preload === "none") video.preload = "metadata";
}

async function follow() {
  status = await fetchJson(video.dataset.renditionsUrl);
  if (!status) return loadMetadata(); // no renditions for this file: the original is all there is
  if (status.status === "pending" || status.status === "running") {
    loadMetadata();
    statusLine().textContent =
      status.status === "pending" ? "正在排队转码，原画可先播放" : `正在转码 ${status.progress}%，原画可先播放`;
    setTimeout(follow, POLL_MS);
    return;
  }
  if (status.status === "failed") {
    loadMetadata();
    statusLine().textContent = `转码失败，播放原画：${status.error || ""}`;
    return;
  }
  document.querySelector("[data-rendition-status]")?.remove();
  video.closest("section").querySelector(".player-status").after(qualityMenu());
  const remembered = localStorage.getItem(QUALITY_KEY);
  const known = ["auto", "original", ...status.renditions.map((item) => item.name)];
  await useSource(known.includes(remembered) ? remembered : "auto");
  if (status.storyboard) afterStart(() => storyboard(status.storyboard));
}

/** Run once playback has started (or after a while): nothing competes with the first segments. */
function afterStart(work) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    work();
  };
  video.addEventListener("playing", once, { once: true });
  setTimeout(once, STORYBOARD_DELAY_MS);
}

// -- storyboard ------------------------------------------------------------------------------------

function parseTrack(text, trackUrl) {
  const cues = [];
  const blocks = text.replace(/\r/g, "").split("\n\n");
  for (const block of blocks) {
    const lines = block.trim().split("\n");
    const timing = lines.find((line) => line.includes("-->"));
    const target = lines[lines.indexOf(timing) + 1];
    if (!timing || !target) continue;
    const [start, end] = timing.split("-->").map((part) => seconds(part.trim()));
    const [path, fragment] = target.split("#xywh=");
    const [x, y, w, h] = fragment.split(",").map(Number);
    cues.push({ start, end, url: new URL(path, new URL(trackUrl, location.href)).href, x, y, w, h });
  }
  return cues;
}

function seconds(stamp) {
  const [h, m, s] = stamp.split(":");
  return parseInt(h, 10) * 3600 + parseInt(m, 10) * 60 + parseFloat(s);
}

function tile(cues, time) {
  return cues.find((cue) => time >= cue.start && time < cue.end) || cues[cues.length - 1];
}

function thumbnail(cue, className) {
  const element = document.createElement("span");
  element.className = className;
  element.setAttribute("aria-hidden", "true");
  element.style.width = `${cue.w}px`;
  element.style.height = `${cue.h}px`;
  element.style.backgroundImage = `url("${cue.url}")`;
  element.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
  return element;
}

async function storyboard(board) {
  const response = await fetch(board.url, { credentials: "same-origin" });
  if (!response.ok) return;
  const cues = parseTrack(await response.text(), board.url);
  if (!cues.length) return;
  const duration = cues[cues.length - 1].end;

  // A scrub bar under the player: hovering shows the frame there, a click seeks.
  const bar = document.createElement("div");
  bar.className = "scrubber";
  bar.dataset.scrubber = "";
  bar.setAttribute("aria-hidden", "true");
  const fill = document.createElement("div");
  fill.className = "scrubber-fill";
  const preview = document.createElement("div");
  preview.className = "scrubber-preview";
  preview.hidden = true;
  bar.append(fill, preview);
  video.after(bar);
  const at = (event) => {
    const box = bar.getBoundingClientRect();
    return Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * (video.duration || duration);
  };
  bar.addEventListener("mousemove", (event) => {
    const time = at(event);
    const cue = tile(cues, time);
    preview.replaceChildren(thumbnail(cue, "thumb"), Object.assign(document.createElement("span"), { textContent: clock(time) }));
    preview.hidden = false;
    const box = bar.getBoundingClientRect();
    preview.style.left = `${Math.max(0, Math.min(box.width - cue.w, event.clientX - box.left - cue.w / 2))}px`;
  });
  bar.addEventListener("mouseleave", () => (preview.hidden = true));
  bar.addEventListener("click", (event) => {
    video.currentTime = at(event);
  });
  video.addEventListener("timeupdate", () => {
    fill.style.width = `${(100 * video.currentTime) / (video.duration || duration)}%`;
  });

  // Beside each review comment, the frame it is about.
  for (const comment of document.querySelectorAll(".timeline [data-start], .timeline .comment")) {
    const start = parseFloat(comment.dataset.start);
    if (Number.isNaN(start) || comment.querySelector(".comment-thumb")) continue;
    comment.classList.add("with-thumb");
    comment.prepend(thumbnail(tile(cues, start), "comment-thumb"));
  }
}

if (video && video.dataset.renditionsUrl) {
  video.dataset.originalSrc = video.getAttribute("src");
  video.dataset.source = "original";
  // Fetched while the page asks for the ladder's status, not after: nearly every recording has one
  // (not for a viewer who chose the original: it would compete with the original's first bytes).
  const streams = window.MediaSource || window.ManagedMediaSource;
  if (streams && localStorage.getItem(QUALITY_KEY) !== "original") loadHlsJs().catch(() => {});
  follow().catch(loadMetadata);
}
