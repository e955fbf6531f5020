// Forms marked data-api-form are sent to the JSON API with fetch(): their fields become a JSON
// object (data-type says how: int, float, bool, list, int-list, csv, words, text, china-time), groups of fields
// inside [data-list=NAME] [data-item] become a list of objects. Then the page reloads or moves on:
// data-redirect to the created object, data-then to a fixed page, data-reload to the same one.

import { api, showStatus } from "./api.js";

function convert(element, raw) {
  const type = element.dataset.type || "";
  // An edit form's emptied field clears the value; elsewhere an empty field is left out.
  if (raw === "" && element.dataset.empty === "null") return null;
  if (type === "text") return raw;
  if (type === "int") return raw === "" ? undefined : parseInt(raw, 10);
  if (type === "float") return raw === "" ? undefined : parseFloat(raw);
  if (type === "bool") return element.type === "checkbox" ? element.checked : raw === "true";
  // A datetime-local field read as China Standard Time (no daylight saving), sent with its offset.
  if (type === "china-time") return raw === "" ? undefined : `${raw.length === 16 ? `${raw}:00` : raw}+08:00`;
  if (type === "csv") return raw.split(/[,，、]/).map((part) => part.trim()).filter(Boolean);
  if (type === "words") return raw.split(/[\s,，、=]+/).map((part) => part.trim()).filter(Boolean);
  return raw === "" ? undefined : raw;
}

function collect(container, skip) {
  const data = {};
  for (const element of container.querySelectorAll("input[name], select[name], textarea[name]")) {
    if (element.disabled || element.type === "file" || skip(element)) continue;
    const name = element.name;
    const type = element.dataset.type || "";
    if (element instanceof HTMLSelectElement && element.multiple) {
      const values = [...element.selectedOptions].map((option) => option.value);
      data[name] = type === "int-list" ? values.map((value) => parseInt(value, 10)) : values;
    } else if (element.type === "checkbox" && type === "list") {
      data[name] = data[name] || [];
      if (element.checked) data[name].push(element.value);
    } else if (element.type === "checkbox" && type !== "bool") {
      if (element.checked) data[name] = element.value;
    } else {
      const value = convert(element, element.value);
      if (value !== undefined) data[name] = value;
    }
  }
  return data;
}

function unchanged(element) {
  if (element instanceof HTMLSelectElement) {
    const options = [...element.options];
    // With no option marked selected, a single select starts on its first one.
    if (!element.multiple && !options.some((option) => option.defaultSelected)) return element.selectedIndex === 0;
    return options.every((option) => option.selected === option.defaultSelected);
  }
  if (element.type === "checkbox" || element.type === "radio") return element.checked === element.defaultChecked;
  return element.value === element.defaultValue;
}

export function formData(form) {
  const lists = [...form.querySelectorAll("[data-list]")];
  const inList = (element) => lists.some((list) => list.contains(element));
  // An edit form (data-changed-only) sends only what was changed, so a PATCH never rewrites a value
  // the form could not show exactly (a stage without a grade, an edition under another alias).
  const changedOnly = form.dataset.changedOnly !== undefined;
  const data = collect(form, (element) => inList(element) || (changedOnly && unchanged(element)));
  for (const list of lists) {
    const required = list.dataset.skipEmpty;
    data[list.dataset.list] = [...list.querySelectorAll("[data-item]")]
      .map((item) => collect(item, () => false))
      .filter((item) => !required || item[required]);
  }
  return data;
}

async function submit(form, submitter) {
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const method = form.dataset.method || "POST";
  const body = method === "DELETE" ? undefined : formData(form);
  if (submitter) submitter.disabled = true;
  showStatus(form, "");
  try {
    const result = await api(method, form.dataset.action, body);
    if (form.dataset.redirect && result && result.id) {
      window.location.assign(form.dataset.redirect.replace("{id}", result.id));
    } else if (form.dataset.then || form.dataset.reload !== undefined) {
      if (form.dataset.success) sessionStorage.setItem("jiaoyun.flash", form.dataset.success);
      if (form.dataset.then) window.location.assign(form.dataset.then);
      else window.location.reload();
    } else {
      showStatus(form, form.dataset.success || "已保存", true);
    }
  } catch (error) {
    showStatus(form, error.message);
  } finally {
    if (submitter) submitter.disabled = false;
  }
}

export function attachApiForms(root = document) {
  for (const form of root.querySelectorAll("form[data-api-form]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      submit(form, event.submitter);
    });
  }
}
