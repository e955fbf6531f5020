// Handing work in from a phone: the form's text and files go to the API as multipart in one request,
// streamed to object storage by the server; the page then reloads to show what was handed in.

import { api, showStatus } from "./api.js";

function attachHandIn(form) {
  const progress = form.querySelector("[data-progress]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const data = new FormData();
    data.append("text", form.elements.text.value);
    for (const file of form.elements.file.files) data.append("file", file, file.name);
    button.disabled = true;
    showStatus(form, "");
    progress.hidden = false;
    progress.textContent = "正在提交…";
    try {
      await api("POST", form.dataset.action, data);
      sessionStorage.setItem("jiaoyun.flash", "已提交");
      window.location.reload();
    } catch (error) {
      progress.hidden = true;
      showStatus(form, error.message);
      button.disabled = false;
    }
  });
}

for (const form of document.querySelectorAll("form[data-hand-in]")) attachHandIn(form);
