// Loaded on every page: API forms, search autocomplete, @mention completion, the notification badge.

import { api, toast } from "./api.js";
import { attachAutocomplete } from "./autocomplete.js";
import { attachApiForms } from "./forms.js";

const KIND_HINTS = { resource: "资源", file_page: "文档", video_cue: "字幕", screen_text: "画面", post: "研讨" };

function attachSearchSuggestions() {
  for (const box of document.querySelectorAll("[data-suggest]")) {
    const input = box.querySelector("input");
    const list = box.querySelector("[role=listbox]");
    attachAutocomplete(input, list, {
      source: async (text) => {
        const found = await api("GET", `/api/v1/search/suggest?${new URLSearchParams({ q: text, limit: "8" })}`);
        return found.map((item) => ({ label: item.text, hint: KIND_HINTS[item.kind] || "", value: item }));
      },
      onPick: (item) => {
        const suggestion = item.value;
        if (suggestion.kind === "post") window.location.assign(`/topics/${suggestion.topic_id || suggestion.resource_id}`);
        else window.location.assign(`/resources/${suggestion.resource_id}`);
      },
    });
  }
}

const MENTION_BEFORE_CARET = /(?:^|[^\w@])@([A-Za-z0-9_.-]{1,64})$/;
let mentionLists = 0;

// The topic (or lesson) a field writes in, or for a new topic the visibility chosen in its form.
function mentionScope(field) {
  if (field.dataset.mentionsTopic) return { topic_id: field.dataset.mentionsTopic };
  if (field.dataset.mentionsResource) return { resource_id: field.dataset.mentionsResource };
  const visibility = field.form?.elements.namedItem("visibility");
  return { visibility: visibility?.value || "school" };
}

function attachMentions() {
  for (const field of document.querySelectorAll("textarea[data-mentions]")) {
    const list = document.createElement("ul");
    list.id = `mention-list-${++mentionLists}`;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "提醒同事");
    list.hidden = true;
    field.after(list);
    field.parentElement.classList.add("mention-field");
    field.setAttribute("aria-autocomplete", "list");
    field.setAttribute("aria-controls", list.id);
    // Registered before the autocomplete's own listener: it reads the word being typed after "@".
    field.addEventListener("input", () => {
      const before = field.value.slice(0, field.selectionStart);
      const match = MENTION_BEFORE_CARET.exec(before);
      field.dataset.query = match ? match[1] : "";
    });
    attachAutocomplete(field, list, {
      expandable: false,
      minLength: 2,
      source: async (text) => {
        // Only people who could read what is being written are offered (they alone would be told).
        const params = new URLSearchParams({ q: text, limit: "8", ...mentionScope(field) });
        const people = await api("GET", `/api/v1/users/mentionable?${params}`);
        return people.map((person) => ({ label: person.display_name, hint: `@${person.username}`, value: person }));
      },
      onPick: (item) => {
        const caret = field.selectionStart;
        const before = field.value.slice(0, caret).replace(/@[A-Za-z0-9_.-]*$/, `@${item.value.username} `);
        field.value = before + field.value.slice(caret);
        field.selectionStart = field.selectionEnd = before.length;
        field.dataset.query = "";
        field.focus();
      },
    });
  }
}

async function refreshBadge() {
  const badge = document.querySelector("[data-unread-badge]");
  if (!badge || document.hidden) return;
  try {
    const inbox = await api("GET", "/api/v1/notifications?unread=true&limit=1");
    badge.querySelector("[data-unread-count]").textContent = String(inbox.unread_count);
    badge.hidden = inbox.unread_count === 0;
  } catch {
    // Signed out meanwhile, or the server is away: the badge keeps what it showed.
  }
}

function attachNotificationLinks() {
  for (const link of document.querySelectorAll("a[data-notification][data-unread]")) {
    link.addEventListener("click", () => {
      api("POST", "/api/v1/notifications/read", { ids: [link.dataset.notification] }, { keepalive: true }).catch(() => {});
    });
  }
}

function showFlash() {
  const message = sessionStorage.getItem("jiaoyun.flash");
  if (message) {
    sessionStorage.removeItem("jiaoyun.flash");
    toast(message);
  }
}

attachApiForms();
attachSearchSuggestions();
attachMentions();
attachNotificationLinks();
showFlash();
if (document.querySelector("[data-unread-badge]")) setInterval(refreshBadge, 60_000);
document.addEventListener("visibilitychange", refreshBadge);
