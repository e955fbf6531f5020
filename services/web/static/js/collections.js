// Collections (专题资源包): a cover picture sent as multipart, items reordered by drag and drop,
// 加入资源包 from a resource's page, and lessons played one after another.

import { api, showStatus } from "./api.js";

function attachCoverForms() {
  for (const form of document.querySelectorAll("form[data-cover-form]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = form.querySelector("input[type=file]");
      if (!input.files.length) return;
      const body = new FormData();
      body.append("file", input.files[0]);
      showStatus(form, "");
      try {
        await api("PUT", form.dataset.action, body);
        window.location.reload();
      } catch (error) {
        showStatus(form, error.message);
      }
    });
  }
}

function attachReordering() {
  for (const list of document.querySelectorAll("[data-order-list]")) {
    let dragged = null;
    list.addEventListener("dragstart", (event) => {
      dragged = event.target.closest("li[data-item]");
      if (event.dataTransfer) event.dataTransfer.effectAllowed = "move";
    });
    list.addEventListener("dragover", (event) => {
      const over = event.target.closest("li[data-item]");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      const after = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
      over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
    });
    list.addEventListener("drop", (event) => event.preventDefault());
    list.addEventListener("dragend", async () => {
      if (!dragged) return;
      dragged = null;
      const ids = [...list.querySelectorAll("li[data-item]")].map((item) => item.dataset.item);
      const status = document.querySelector("[data-order-status]");
      try {
        await api("PUT", list.dataset.action, { item_ids: ids });
        window.location.reload();
      } catch (error) {
        if (status) {
          status.hidden = false;
          status.textContent = error.message;
        }
      }
    });
  }
}

function attachAddToCollection() {
  for (const form of document.querySelectorAll("form[data-add-to-collection]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const collection = form.querySelector("select[name=collection]").value;
      showStatus(form, "");
      try {
        await api("POST", `/api/v1/collections/${collection}/items`, { resource_id: form.dataset.resource });
        showStatus(form, "已加入", true);
      } catch (error) {
        showStatus(form, error.message);
      }
    });
  }
}

function attachPlayInOrder() {
  for (const video of document.querySelectorAll("video[data-play-next]")) {
    video.addEventListener("ended", () => {
      if (video.dataset.playNext) window.location.assign(video.dataset.playNext);
    });
  }
}

attachCoverForms();
attachReordering();
attachAddToCollection();
attachPlayInOrder();
