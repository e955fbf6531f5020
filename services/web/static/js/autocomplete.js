// A combobox (WAI-ARIA 1.2 pattern): a text field with a listbox of suggestions, driven by the
// keyboard (arrows, Enter, Escape) or the pointer. `source(text)` returns [{label, hint, value}].

let instances = 0;

// `expandable`: the field is a combobox, which says whether its list is open (aria-expanded); a
// textarea completing @mentions is a plain textbox, which may not carry that attribute.
export function attachAutocomplete(input, list, { source, onPick, minLength = 1, delay = 150, expandable = true }) {
  const prefix = `ac-${++instances}`;
  let items = [];
  let active = -1;
  let timer = 0;
  let latest = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    if (expandable) input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    items = [];
    active = -1;
  }

  function highlight(index) {
    active = index;
    [...list.children].forEach((child, position) => child.setAttribute("aria-selected", String(position === index)));
    if (index >= 0) input.setAttribute("aria-activedescendant", `${prefix}-${index}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function show(found) {
    items = found;
    list.replaceChildren(
      ...found.map((item, index) => {
        const option = document.createElement("li");
        option.id = `${prefix}-${index}`;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.textContent = item.label;
        if (item.hint) {
          const hint = document.createElement("span");
          hint.className = "meta";
          hint.textContent = item.hint;
          option.append(hint);
        }
        // mousedown, not click: the field must not lose focus (and close the list) first.
        option.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pick(index);
        });
        return option;
      }),
    );
    const open = found.length > 0;
    list.hidden = !open;
    if (expandable) input.setAttribute("aria-expanded", String(open));
    active = -1;
  }

  function pick(index) {
    const item = items[index];
    close();
    if (item) onPick(item);
  }

  async function refresh() {
    const text = input.dataset.query !== undefined ? input.dataset.query : input.value.trim();
    if (text.length < minLength) {
      close();
      return;
    }
    const ticket = ++latest;
    try {
      const found = await source(text);
      if (ticket === latest) show(found);
    } catch {
      if (ticket === latest) close();
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden || !items.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight((active - 1 + items.length) % items.length);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      pick(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
  return { close, refresh };
}
