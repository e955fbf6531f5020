// Watch time on the lesson page: the player reports the ranges it played (every 15 s, on pause,
// and when the page is closed), the viewer resumes where they stopped ("从 12:34 继续"), the
// lesson's teacher sees the round's viewers, watch time, completion and retention curve, and on
// a micro-lesson teachers see how far each student of their school got.

import { api, clock, headers } from "./api.js";

const video = document.getElementById("lesson-video");
const REPORT_EVERY_MS = 15_000;
const GUEST_KEY = "jiaoyun.guest";

function guestId() {
  let id = localStorage.getItem(GUEST_KEY);
  if (!id) {
    id = crypto.getRandomValues(new Uint32Array(4)).reduce((text, part) => text + part.toString(36), "g");
    localStorage.setItem(GUEST_KEY, id);
  }
  return id;
}

const signedIn = Boolean(document.querySelector(".who"));

function watchUrl(extra = "") {
  const url = new URL(video.dataset.watchUrl, location.href);
  if (extra) url.searchParams.set("guest_id", extra);
  return url.pathname + url.search;
}

// -- reporting ------------------------------------------------------------------------------------

let pending = [];
let open = null; // [start, end] being played now

function closeRange() {
  if (open && open[1] - open[0] > 0.2) pending.push(open);
  open = null;
}

function track() {
  const now = video.currentTime;
  if (video.paused || video.seeking) return;
  if (open && now >= open[1] && now - open[1] < 2) open[1] = now;
  else {
    closeRange();
    open = [now, now];
  }
}

function body() {
  closeRange();
  const ranges = pending.map(([start, end]) => [Math.round(start * 100) / 100, Math.round(end * 100) / 100]);
  pending = [];
  if (!video.paused) open = [video.currentTime, video.currentTime];
  const report = { ranges, position_s: video.currentTime };
  if (!signedIn) report.guest_id = guestId();
  return report;
}

async function send() {
  const report = body();
  if (!report.ranges.length && Math.abs(report.position_s - lastPosition) < 1) return;
  lastPosition = report.position_s;
  try {
    await api("POST", watchUrl(), report);
  } catch {
    // Ranges are lost at worst; watch time is a statistic, not a payment.
  }
}

let lastPosition = -1;

function sendOnLeaving() {
  const report = body();
  if (!report.ranges.length) return;
  const text = JSON.stringify(report);
  if (signedIn) {
    // The session cookie needs the CSRF header, which sendBeacon cannot send; keepalive fetches
    // outlive the page just as beacons do.
    fetch(watchUrl(), {
      method: "POST",
      keepalive: true,
      credentials: "same-origin",
      headers: headers({ "Content-Type": "application/json" }),
      body: text,
    });
  } else {
    navigator.sendBeacon(watchUrl(), new Blob([text], { type: "application/json" }));
  }
}

// -- resuming -------------------------------------------------------------------------------------

async function offerResume() {
  let progress;
  try {
    progress = await api("GET", watchUrl(signedIn ? "" : guestId()));
  } catch {
    return;
  }
  const duration = progress.duration_s || video.duration;
  if (!(progress.position_s > 5) || (duration && progress.position_s > duration - 5)) return;
  if (!Number.isNaN(parseFloat(video.dataset.start))) return; // a #t= link chose where to start
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary resume";
  button.dataset.resume = String(progress.position_s);
  button.textContent = `从 ${clock(progress.position_s)} 继续`;
  button.addEventListener("click", () => {
    video.currentTime = progress.position_s;
    video.play().catch(() => {});
    button.remove();
  });
  video.closest("section").querySelector(".player-status").append(" ", button);
}

// -- the teacher's statistics ---------------------------------------------------------------------

function retentionChart(retention) {
  const width = 420;
  const height = 160;
  const left = 36;
  const bottom = 20;
  const plotWidth = width - left - 8;
  const plotHeight = height - bottom - 8;
  const points = retention
    .map((share, index) => {
      const x = left + (plotWidth * index) / (retention.length - 1);
      const y = 8 + plotHeight * (1 - share);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
  const svg = `
    <svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="retention-caption">
      <line x1="${left}" y1="${8 + plotHeight}" x2="${width - 8}" y2="${8 + plotHeight}" class="axis"></line>
      <line x1="${left}" y1="8" x2="${left}" y2="${8 + plotHeight}" class="axis"></line>
      <text x="${left - 4}" y="14" text-anchor="end" class="label">100%</text>
      <text x="${left - 4}" y="${8 + plotHeight}" text-anchor="end" class="label">0</text>
      <text x="${left}" y="${height - 4}" class="label">开头</text>
      <text x="${width - 8}" y="${height - 4}" text-anchor="end" class="label">结尾</text>
      <polyline points="${points}" class="retention-line" fill="none"></polyline>
    </svg>`;
  return svg;
}

async function showStats(section) {
  let stats;
  try {
    stats = await api("GET", section.dataset.watchStats);
  } catch {
    return;
  }
  const minutes = (seconds) => `${Math.round(seconds / 6) / 10} 分钟`;
  const summary = document.createElement("dl");
  summary.className = "watch-summary";
  for (const [term, value] of [
    ["观看人数", `${stats.viewers}${stats.guests ? `（含分享链接访客 ${stats.guests}）` : ""}`],
    ["总观看时长", minutes(stats.total_watch_s)],
    ["平均完成度", `${Math.round(stats.average_completion * 100)}%`],
  ]) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.dataset.stat = term;
    summary.append(dt, dd);
  }
  const figure = document.createElement("figure");
  figure.className = "chart retention";
  figure.innerHTML = retentionChart(stats.retention);
  const caption = document.createElement("figcaption");
  caption.id = "retention-caption";
  caption.textContent = "留存曲线：每个 5% 位置仍在观看的人数比例";
  figure.append(caption);
  section.append(summary, figure);
}

async function showStudents(section) {
  let progress;
  try {
    progress = await api("GET", section.dataset.studentProgress);
  } catch {
    return;
  }
  if (!progress.students.length) {
    section.append(Object.assign(document.createElement("p"), { textContent: "本校还没有学生账号。" }));
    return;
  }
  const table = document.createElement("table");
  table.innerHTML = "<thead><tr><th scope='col'>学生</th><th scope='col'>完成度</th><th scope='col'>看到</th><th scope='col'>状态</th></tr></thead>";
  const rows = document.createElement("tbody");
  for (const student of progress.students) {
    const row = document.createElement("tr");
    const cells = [
      student.display_name,
      `${Math.round(student.completion * 100)}%`,
      clock(student.position_s),
      student.finished ? "已看完" : student.watched_s > 0 ? "未看完" : "未观看",
    ];
    for (const [index, text] of cells.entries()) {
      const cell = document.createElement(index === 0 ? "th" : "td");
      if (index === 0) cell.scope = "row";
      cell.textContent = text;
      row.append(cell);
    }
    rows.append(row);
  }
  table.append(rows);
  const wrap = document.createElement("div");
  wrap.className = "table-wrap";
  wrap.append(table);
  section.append(wrap);
}

if (video && video.dataset.watchUrl) {
  video.addEventListener("timeupdate", track);
  video.addEventListener("seeking", closeRange);
  video.addEventListener("pause", () => {
    track();
    send();
  });
  video.addEventListener("ended", () => {
    track();
    send();
  });
  setInterval(() => {
    track();
    if (pending.length || open) send();
  }, REPORT_EVERY_MS);
  window.addEventListener("pagehide", () => {
    track();
    sendOnLeaving();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      track();
      sendOnLeaving();
    }
  });
  offerResume();
}
const statsSection = document.querySelector("[data-watch-stats]");
if (statsSection) showStats(statsSection);
const studentsSection = document.querySelector("[data-student-progress]");
if (studentsSection) showStudents(studentsSection);
