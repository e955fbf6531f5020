// The resource page: seek the player from subtitles and comments, follow it in the transcript,
// show subtitles on the video, post timed (or ranged) comments at the current time, and add files.

import { api, clock, showStatus, toast } from "./api.js";

const video = document.getElementById("lesson-video");
const timeOutput = document.querySelector("[data-current-time]");
const transcript = document.querySelector("[data-transcript]");

function seek(seconds) {
  if (!video) return;
  // While the player changes source (original → HLS) the new source takes this position when ready.
  if (video.dataset.switching) video.dataset.pendingSeek = String(seconds);
  video.currentTime = seconds;
  video.closest("section")?.scrollIntoView({ block: "nearest" });
  updateTime();
}

function updateTime() {
  if (!video) return;
  const now = video.currentTime;
  if (timeOutput) timeOutput.textContent = clock(now);
  for (const label of document.querySelectorAll("[data-submit-time]")) label.textContent = clock(now);
  if (!transcript) return;
  for (const cue of transcript.children) {
    const inside = now >= parseFloat(cue.dataset.cueStart) && now < parseFloat(cue.dataset.cueEnd);
    cue.classList.toggle("current", inside);
    if (inside) cue.setAttribute("aria-current", "true");
    else cue.removeAttribute("aria-current");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-seek]");
  if (button) seek(parseFloat(button.dataset.seek));
});

async function addSubtitleTrack() {
  if (!video || !video.dataset.cuesUrl || !window.VTTCue) return;
  try {
    const cues = await api("GET", video.dataset.cuesUrl);
    const track = video.addTextTrack("subtitles", "字幕", "zh-CN");
    for (const cue of cues) track.addCue(new VTTCue(cue.start_s, cue.end_s, cue.text));
    track.mode = "showing";
  } catch {
    // The transcript beside the player still shows the subtitles.
  }
}

if (video) {
  video.addEventListener("timeupdate", updateTime);
  video.addEventListener("seeked", updateTime);
  const start = parseFloat(video.dataset.start);
  if (!Number.isNaN(start)) {
    // The #t= fragment already asks for this; setting it again covers browsers that ignore it.
    const jump = () => {
      if (Math.abs(video.currentTime - start) > 0.5) video.currentTime = start;
      updateTime();
    };
    if (video.readyState >= 1) jump();
    else video.addEventListener("loadedmetadata", jump, { once: true });
  }
  addSubtitleTrack();
}

// -- comments -------------------------------------------------------------------------------------

const form = document.querySelector("[data-comment-form]");
const timeline = document.querySelector("[data-timeline]");

function commentElement(comment) {
  const item = document.createElement("li");
  item.className = "comment fresh";
  item.id = `comment-${comment.id}`;
  item.dataset.start = String(comment.start_s);
  const head = document.createElement("div");
  head.className = "comment-head";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "seek";
  button.dataset.seek = String(comment.start_s);
  const range = comment.end_s != null ? `–${clock(comment.end_s)}` : "";
  button.textContent = `${clock(comment.start_s)}${range}`;
  button.setAttribute("aria-label", `跳到 ${clock(comment.start_s)}${comment.end_s != null ? ` 至 ${clock(comment.end_s)}` : ""}`);
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = comment.author_name;
  head.append(button, author);
  if (comment.category_name) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = comment.category_name;
    head.append(tag);
  }
  const body = document.createElement("div");
  body.className = "prose";
  // body_html is the server's Markdown rendering (services.markdown), which escapes raw HTML.
  body.innerHTML = comment.body_html;
  item.append(head, body);
  return item;
}

function insertByTime(element, start) {
  const later = [...timeline.children].find((child) => parseFloat(child.dataset.start) > start);
  timeline.insertBefore(element, later || null);
  document.querySelector("[data-timeline-empty]")?.remove();
  const count = document.querySelector("[data-comment-count]");
  if (count) count.textContent = String(timeline.children.length);
}

if (form && video) {
  const rangeToggle = form.querySelector("[data-range-toggle]");
  const rangeFields = form.querySelector("[data-range-fields]");
  const endInput = form.querySelector("[name=end_s]");
  const startInput = form.querySelector("[name=start_s]");
  rangeToggle?.addEventListener("change", () => {
    rangeFields.hidden = !rangeToggle.checked;
    endInput.disabled = !rangeToggle.checked;
    if (rangeToggle.checked && !endInput.value) endInput.value = video.currentTime.toFixed(1);
  });
  for (const button of form.querySelectorAll("[data-capture]")) {
    button.addEventListener("click", () => {
      document.getElementById(button.dataset.capture).value = video.currentTime.toFixed(1);
    });
  }
  // Until the teacher types a time of their own, the comment is about where the player is.
  let startTouched = false;
  startInput.addEventListener("input", () => (startTouched = true));
  video.addEventListener("timeupdate", () => {
    if (!startTouched) startInput.value = video.currentTime.toFixed(1);
  });
  video.addEventListener("seeked", () => {
    if (!startTouched) startInput.value = video.currentTime.toFixed(1);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    const body = {
      version: parseInt(form.querySelector("[name=version]").value, 10),
      start_s: parseFloat(startInput.value),
      body: form.querySelector("[name=body]").value,
    };
    if (rangeToggle?.checked && endInput.value !== "") body.end_s = parseFloat(endInput.value);
    const category = form.querySelector("[name=category_id]");
    if (category && category.value) body.category_id = category.value;
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    showStatus(form, "");
    try {
      const comment = await api("POST", form.dataset.action, body);
      insertByTime(commentElement(comment), comment.start_s);
      form.querySelector("[name=body]").value = "";
      startTouched = false;
      toast(`已在 ${clock(comment.start_s)} 发表评论`);
    } catch (error) {
      showStatus(form, error.message);
    } finally {
      submit.disabled = false;
    }
  });
}

// A file added to the round shown: an attachment, or subtitles for its video. The worker then
// extracts its text (or cues) for search; the page reloads to list it.
const attachForm = document.querySelector("[data-attach-form]");
if (attachForm) {
  attachForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!attachForm.reportValidity()) return;
    const metadata = {
      purpose: attachForm.elements.purpose.value,
      version: parseInt(attachForm.dataset.version, 10),
    };
    const body = new FormData();
    body.append("metadata", JSON.stringify(metadata));
    body.append("file", attachForm.elements.file.files[0]);
    const submit = attachForm.querySelector("[type=submit]");
    submit.disabled = true;
    showStatus(attachForm, "");
    try {
      await api("POST", attachForm.dataset.action, body);
      sessionStorage.setItem("jiaoyun.flash", "文件已添加，正在处理");
      window.location.reload();
    } catch (error) {
      showStatus(attachForm, error.message);
      submit.disabled = false;
    }
  });
}

updateTime();
