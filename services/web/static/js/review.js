// The review queue from the keyboard: j/k move to the next/previous item, a approves, r rejects and
// e returns for changes (both need the reason typed first: the key focuses the reason box when it is
// empty). Keys typed into a field are the field's.

import { api, showStatus } from "./api.js";

function typing(event) {
  const target = event.target;
  return target instanceof HTMLElement && (target.isContentEditable || target.closest("input, textarea, select"));
}

function move(step) {
  const items = [...document.querySelectorAll("[data-review-item]")];
  if (!items.length) return;
  const current = items.findIndex((item) => item.classList.contains("current"));
  const next = items[Math.min(items.length - 1, Math.max(0, current + step))];
  if (next && next !== items[current]) window.location.assign(next.href);
}

function decideWithReason(kind) {
  const reasonForm = document.querySelector("[data-review-reason-form]");
  const reason = document.querySelector("[data-review-reason]");
  if (!reasonForm || !reason) return;
  if (!reason.value.trim()) {
    reason.focus();
    showStatus(reasonForm, kind === "return" ? "请填写退回原因，再按 Ctrl+Enter 退回" : "请填写不通过的原因，再按 Ctrl+Enter 提交");
    reasonForm.dataset.pending = kind;
    return;
  }
  if (kind === "return") document.querySelector("[data-review-return]").click();
  else reasonForm.requestSubmit(document.querySelector("[data-review-reject]"));
}

async function returnForChanges(button) {
  const form = button.closest("form");
  const reason = form.querySelector("[data-review-reason]");
  if (!reason.value.trim()) {
    reason.focus();
    showStatus(form, "请填写退回原因");
    return;
  }
  button.disabled = true;
  try {
    await api("POST", button.dataset.reviewReturn, { reason: reason.value });
    sessionStorage.setItem("jiaoyun.flash", "已退回修改");
    window.location.reload();
  } catch (error) {
    showStatus(form, error.message);
  } finally {
    button.disabled = false;
  }
}

const returnButton = document.querySelector("[data-review-return]");
if (returnButton) returnButton.addEventListener("click", () => returnForChanges(returnButton));

const reasonBox = document.querySelector("[data-review-reason]");
if (reasonBox) {
  reasonBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      const form = reasonBox.closest("form");
      if (form.dataset.pending === "return") returnButton.click();
      else form.requestSubmit(form.querySelector("[data-review-reject]"));
    } else if (event.key === "Escape") {
      reasonBox.blur();
    }
  });
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || typing(event)) return;
  if (event.key === "j") move(1);
  else if (event.key === "k") move(-1);
  else if (event.key === "a") {
    const approve = document.querySelector("[data-review-approve]");
    if (approve) approve.requestSubmit();
  } else if (event.key === "r") {
    event.preventDefault();
    decideWithReason("reject");
  } else if (event.key === "e") {
    event.preventDefault();
    decideWithReason("return");
  } else return;
});
