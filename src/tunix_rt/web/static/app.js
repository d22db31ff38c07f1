// tunix-rt web UI: the few things a server-rendered page cannot do by itself.
// Every page works without this file; it only refreshes live regions and adds conveniences.
"use strict";

// A region marked data-refresh="MS" (with an id) is fetched again every MS milliseconds from
// the page's own address and swapped in place, until the server renders it with data-final.
function refreshRegion(region) {
  const interval = Number(region.dataset.refresh);
  if (!interval || region.hasAttribute("data-final")) return;
  setTimeout(async () => {
    try {
      const response = await fetch(window.location.href, { headers: { "X-Refresh": region.id } });
      if (response.ok) {
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById(region.id);
        if (fresh) {
          keepOpen(region, fresh);
          keepEdits(region, fresh);
          const focused = focusedIn(region);
          region.replaceWith(fresh);
          refocus(fresh, focused);
          refreshRegion(fresh);
          keepScrolledToEnd(fresh);
          return;
        }
      }
    } catch (error) {
      // the server is restarting or the network dropped: try again on the next tick
    }
    refreshRegion(region);
  }, interval);
}

// A <details id> the reader opened stays open when its region is swapped.
function keepOpen(region, fresh) {
  for (const open of region.querySelectorAll("details[id][open]")) {
    const same = fresh.querySelector(`details#${CSS.escape(open.id)}`);
    if (same) same.open = true;
  }
}

// A field the reader changed (a step picked but not yet shown) keeps its value when its region
// is swapped; fields are matched by id.
function keepEdits(region, fresh) {
  for (const field of region.querySelectorAll("select[id], input[id]:not([type=hidden])")) {
    const edited = field.tagName === "SELECT"
      ? field.selectedIndex >= 0 && !field.options[field.selectedIndex].defaultSelected
      : field.value !== field.defaultValue;
    const same = fresh.querySelector(`#${CSS.escape(field.id)}`);
    if (edited && same) same.value = field.value;
  }
}

// The id of the element with the keyboard focus, when it is inside `region`.
function focusedIn(region) {
  const active = document.activeElement;
  return active && active.id && region.contains(active) ? active.id : null;
}

// The focus stays on the same element (by id) after its region is swapped.
function refocus(fresh, id) {
  const same = id && fresh.querySelector(`#${CSS.escape(id)}`);
  if (same) same.focus({ preventScroll: true });
}

// A log tail (data-tail) stays scrolled to its end.
function keepScrolledToEnd(root) {
  for (const tail of root.querySelectorAll("[data-tail]")) tail.scrollTop = tail.scrollHeight;
}

// <button data-copy="ID"> copies the text of element ID.
async function copyText(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Select and copy";
  }
}

// <button data-fill="TEMPLATE_ID" data-target="FIELD_ID"> puts a template's text into a field.
function fill(button) {
  const source = document.getElementById(button.dataset.fill);
  const target = document.getElementById(button.dataset.target);
  if (source && target) {
    target.value = source.textContent.trim();
    target.focus();
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy], button[data-fill]");
  if (!button) return;
  event.preventDefault();
  if (button.dataset.copy) copyText(button);
  else fill(button);
});

// <form data-confirm="MESSAGE"> asks before it is sent.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("DOMContentLoaded", () => {
  for (const region of document.querySelectorAll("[data-refresh][id]")) refreshRegion(region);
  keepScrolledToEnd(document);
});
