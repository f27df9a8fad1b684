// apitap ui: the only script of the live pages (exports have none). It loads a transaction's
// full record when its row is opened, and leaves empty filters out of the sessions URL.
// Records are shown with textContent: never parsed as HTML.
"use strict";

function loadRecord(details) {
  const pre = details.querySelector("pre[data-src]");
  if (!pre || pre.dataset.loaded) return;
  pre.dataset.loaded = "1";
  fetch(pre.dataset.src, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then((rec) => { pre.textContent = JSON.stringify(rec, null, 2); })
    .catch((e) => { pre.textContent = "could not load the record: " + e.message; });
}

document.addEventListener("toggle", (e) => {
  if (e.target instanceof HTMLDetailsElement && e.target.open) loadRecord(e.target);
}, true);

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("details[open]").forEach(loadRecord);
  const first = document.querySelector("details.tx.hl");
  if (first && location.hash === "#evidence") first.scrollIntoView({ block: "center" });
  document.querySelectorAll("form.filters").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("input, select").forEach((el) => {
        if (el.value === "" || (el.type === "checkbox" && !el.checked)) el.disabled = true;
      });
    });
  });
});
