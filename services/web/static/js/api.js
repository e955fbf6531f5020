// fetch() to the JSON API as the signed-in browser: the session cookie goes by itself, and every
// request that changes something carries the CSRF token from the readable cookie (double submit).

const CSRF_COOKIE = "jiaoyun_csrf";
const CSRF_HEADER = "X-CSRF-Token";

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describeError(status, body));
    this.status = status;
    this.body = body;
  }
}

const STATUS_TEXT = {
  400: "请求有误",
  401: "登录已过期，请重新登录",
  403: "没有权限",
  404: "找不到对象，可能已被删除",
  409: "与现有内容冲突",
  413: "文件太大",
  415: "文件类型不符合要求",
  422: "填写的内容有误",
  429: "操作太频繁，请稍后再试",
  503: "服务暂不可用，请稍后再试",
};

// Codes whose status alone would mislead (a 429 that is no rate limit).
const CODE_TEXT = {
  too_many_uploads: "未完成的上传太多或总量太大，请先完成、使用或取消一些上传",
};

function describeError(status, body) {
  const error = body && body.error;
  const base = (error && CODE_TEXT[error.code]) || STATUS_TEXT[status] || `出错了（${status}）`;
  if (!error) return base;
  // Validation details name a field and say what is wrong with it; others (limits) are figures.
  const details = (error.details || [])
    .filter((item) => item.msg)
    .map((item) => `${(item.loc || []).filter((part) => part !== "body").join(".")}: ${item.msg}`)
    .join("；");
  return `${base}：${details || error.message}`;
}

export function headers(extra = {}) {
  return { Accept: "application/json", [CSRF_HEADER]: csrfToken(), ...extra };
}

/** JSON in, JSON out; throws ApiError with a Chinese message for any error status. */
export async function api(method, url, body = undefined, { keepalive = false } = {}) {
  const options = { method, headers: headers(), credentials: "same-origin", keepalive };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const text = await response.text();
  const data = text ? safeJson(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

let toastTimer = 0;
export function toast(message) {
  const element = document.querySelector("[data-toast]");
  if (!element) return;
  element.textContent = message;
  element.classList.add("visible");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => element.classList.remove("visible"), 3500);
}

export function showStatus(form, message, ok = false) {
  const status = form.querySelector("[data-form-status]");
  if (!status) {
    toast(message);
    return;
  }
  status.hidden = !message;
  status.textContent = message;
  status.classList.toggle("ok", ok);
}

export function clock(seconds) {
  const whole = Math.max(0, Math.floor(seconds || 0));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  const pad = (value) => String(value).padStart(2, "0");
  return hours ? `${hours}:${pad(minutes)}:${pad(secs)}` : `${pad(minutes)}:${pad(secs)}`;
}
