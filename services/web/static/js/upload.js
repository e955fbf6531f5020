// Resumable upload of the main file: parts of PART_SIZE through the API, the upload id remembered in
// localStorage. After a dropped connection or a page reload the same file is chosen again, the API
// says which parts it already has, and only the rest are sent. Then the resource (or the new round)
// is created from the upload, subtitles are attached, and processing is followed until it is done.

import { api, ApiError, headers, showStatus } from "./api.js";
import { formData } from "./forms.js";

const PART_SIZE = 5 * 1024 * 1024; // the smallest part the stores accept: little is lost on a drop
const PART_RETRIES = 3;
const STORE_PREFIX = "jiaoyun.upload.";
const POLL_MS = 1500;
const POLL_LIMIT = 400;

const form = document.querySelector("[data-upload-form]");
const fileInput = form.querySelector("[name=file]");
const subtitleInput = form.querySelector("[name=subtitle]");
const progressBlock = form.querySelector("[data-progress-block]");
const progress = form.querySelector("[data-progress]");
const progressText = form.querySelector("[data-progress-text]");
const statusLine = form.querySelector("[data-upload-status]");
const submitButton = form.querySelector("[data-upload-submit]");
const discardButton = form.querySelector("[data-upload-discard]");
const resumeNotice = document.querySelector("[data-resume-notice]");
const roundOf = form.dataset.resource || "";

const storageKey = (file) => `${STORE_PREFIX}${roundOf}|${file.name}|${file.size}|${file.lastModified}`;

function saved() {
  const records = [];
  for (let index = 0; index < localStorage.length; index++) {
    const key = localStorage.key(index);
    if (!key || !key.startsWith(STORE_PREFIX)) continue;
    try {
      const record = JSON.parse(localStorage.getItem(key));
      if (record.round_of === roundOf) records.push({ key, ...record });
    } catch {
      localStorage.removeItem(key);
    }
  }
  return records;
}

function setStatus(text) {
  statusLine.textContent = text;
}

function setProgress(done, total) {
  progressBlock.hidden = false;
  const percent = total ? Math.floor((done / total) * 100) : 0;
  progress.value = percent;
  progressText.textContent = `${percent}%`;
}

const storedBytes = (upload) => upload.parts.reduce((sum, part) => sum + part.size, 0);

function restoreFields(metadata) {
  for (const [name, value] of Object.entries(metadata || {})) {
    const field = form.elements.namedItem(name);
    // Selects always have a value, so they take the saved one; typed fields keep what was typed since.
    if (!field || field.type === "file" || (field.tagName !== "SELECT" && field.value)) continue;
    field.value = Array.isArray(value) ? value.join(", ") : String(value);
  }
}

async function readUpload(id) {
  try {
    const upload = await api("GET", `/api/v1/uploads/${id}`);
    return upload.status === "active" || upload.status === "completed" ? upload : null;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 409)) return null;
    throw error;
  }
}

async function offerResume() {
  for (const record of saved()) {
    const upload = await readUpload(record.upload_id).catch(() => undefined);
    if (upload === null) {
      localStorage.removeItem(record.key);
      continue;
    }
    restoreFields(record.metadata);
    if (upload) setProgress(storedBytes(upload), upload.size);
    resumeNotice.hidden = false;
    resumeNotice.textContent =
      `有未完成的上传：${record.filename}` +
      (upload ? `（已上传 ${Math.floor((storedBytes(upload) / upload.size) * 100)}%）` : "") +
      "。请重新选择同一个文件，点击“继续上传”，已上传的部分不会重传。";
    submitButton.textContent = "继续上传";
    discardButton.hidden = false;
    discardButton.onclick = async () => {
      await api("DELETE", `/api/v1/uploads/${record.upload_id}`).catch(() => {});
      localStorage.removeItem(record.key);
      resumeNotice.hidden = true;
      discardButton.hidden = true;
      progressBlock.hidden = true;
      submitButton.textContent = "开始上传";
    };
    return;
  }
}

function putPart(uploadId, number, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", `/api/v1/uploads/${uploadId}/parts/${number}`);
    for (const [name, value] of Object.entries(headers({ "Content-Type": "application/octet-stream" }))) {
      request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) resolve(JSON.parse(request.responseText));
      else reject(new ApiError(request.status, safeParse(request.responseText)));
    };
    request.onerror = () => reject(new Error("网络中断"));
    request.onabort = () => reject(new Error("上传已中止"));
    request.send(blob);
  });
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sendPart(upload, number, file, done) {
  const start = (number - 1) * upload.part_size;
  const blob = file.slice(start, Math.min(start + upload.part_size, file.size));
  for (let attempt = 1; ; attempt++) {
    try {
      return await putPart(upload.id, number, blob, (loaded) => setProgress(done + loaded, file.size));
    } catch (error) {
      const retriable = !(error instanceof ApiError) || error.status >= 500;
      if (!retriable || attempt >= PART_RETRIES) throw error;
      setStatus(`第 ${number} 片上传失败，${attempt * 2} 秒后重试……`);
      await pause(attempt * 2000);
    }
  }
}

async function uploadFile(file, metadata) {
  const key = storageKey(file);
  const record = JSON.parse(localStorage.getItem(key) || "null");
  let upload = record ? await readUpload(record.upload_id) : null;
  if (!upload) {
    upload = await api("POST", "/api/v1/uploads", { filename: file.name, size: file.size, part_size: PART_SIZE });
  }
  localStorage.setItem(
    key,
    JSON.stringify({ upload_id: upload.id, filename: file.name, round_of: roundOf, metadata, saved_at: Date.now() }),
  );
  const stored = new Set(upload.parts.map((part) => part.part_number));
  let done = storedBytes(upload);
  setProgress(done, file.size);
  if (upload.status === "active") {
    for (let number = 1; number <= upload.part_count; number++) {
      if (stored.has(number)) continue;
      setStatus(`正在上传第 ${number}/${upload.part_count} 片……`);
      const part = await sendPart(upload, number, file, done);
      done += part.size;
      setProgress(done, file.size);
    }
    setStatus("正在校验文件……");
    upload = await api("POST", `/api/v1/uploads/${upload.id}/complete`);
  }
  setProgress(file.size, file.size);
  return { upload, key };
}

async function followProcessing(resourceId) {
  const link = `<a href="/resources/${resourceId}">查看资源</a>`;
  for (let poll = 0; poll < POLL_LIMIT; poll++) {
    const resource = await api("GET", `/api/v1/resources/${resourceId}`);
    if (resource.processing_status !== "pending") {
      const failed = resource.processing_status === "failed";
      statusLine.innerHTML = "";
      statusLine.append(failed ? "处理失败，请检查文件后重新上传。" : "处理完成。");
      const anchor = document.createElement("a");
      anchor.href = `/resources/${resourceId}`;
      anchor.textContent = "查看资源";
      statusLine.append(" ", anchor);
      statusLine.dataset.state = resource.processing_status;
      return;
    }
    setStatus("上传完成，正在处理（提取时长、封面、字幕与文字）……");
    await pause(POLL_MS);
  }
  statusLine.innerHTML = `仍在处理，可以稍后查看。${link}`;
}

function uploadMetadata() {
  const data = formData(form);
  delete data.file;
  delete data.subtitle;
  return data;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showStatus(form, "");
  if (!form.reportValidity()) return;
  const file = fileInput.files[0];
  const metadata = uploadMetadata();
  submitButton.disabled = true;
  fileInput.disabled = true;
  try {
    const { upload, key } = await uploadFile(file, metadata);
    setStatus("正在保存资源信息……");
    let resourceId = roundOf;
    let version;
    if (roundOf) {
      const round = await api("POST", `/api/v1/resources/${roundOf}/versions`, { ...metadata, upload_id: upload.id });
      version = round.number;
    } else {
      const resource = await api("POST", "/api/v1/resources", { ...metadata, upload_id: upload.id });
      resourceId = resource.id;
    }
    localStorage.removeItem(key);
    resumeNotice.hidden = true;
    discardButton.hidden = true;
    const subtitle = subtitleInput && subtitleInput.files[0];
    if (subtitle) {
      setStatus("正在上传字幕……");
      const body = new FormData();
      body.append("metadata", JSON.stringify(version ? { purpose: "subtitle", version } : { purpose: "subtitle" }));
      body.append("file", subtitle);
      await api("POST", `/api/v1/resources/${resourceId}/files`, body);
    }
    await followProcessing(resourceId);
  } catch (error) {
    showStatus(form, `${error.message}。${error instanceof ApiError ? "" : "可以重新选择同一文件继续上传。"}`);
    setStatus("");
  } finally {
    submitButton.disabled = false;
    fileInput.disabled = false;
  }
});

offerResume();
