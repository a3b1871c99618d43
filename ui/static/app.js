// Switchboard web UI helpers: the generic list (search, sort, pages, checked
// rows, delete, export), the condition builder and the dialog. htmx does the
// requests; this file only wires the page together.
"use strict";

const sbList = {
  form() { return document.getElementById("listform"); },
  submit() { const f = this.form(); if (f) htmx.trigger(f, "submit"); },
  refresh() { this.submit(); },
  set(name, value) { const el = document.getElementById(name); if (el) el.value = value; },
  goPage(n) { this.set("page", Math.max(1, n)); this.submit(); },
  pageSize(n) { this.set("page_size", n); this.set("page", 1); this.submit(); },
  sortBy(key) {
    const cur = document.getElementById("sort").value;
    this.set("sort", cur === key ? "-" + key : key);
    this.set("page", 1);
    this.submit();
  },
  checked() { return Array.from(document.querySelectorAll("#grid .rowchk:checked")).map(c => c.value); },
  checkAll(box) { document.querySelectorAll("#grid .rowchk").forEach(c => { c.checked = box.checked; }); },
  toggle(id) { const el = document.getElementById(id); if (el) el.hidden = !el.hidden; },
  deleteChecked(name, question, none) {
    const ids = this.checked();
    if (ids.length === 0) { alert(none); return; }
    if (!confirm(question)) return;
    const values = Object.fromEntries(new FormData(this.form()));
    values.ids = ids.join(",");
    htmx.ajax("POST", "/" + name + "/delete", { target: "#rows", values: values });
  },
  // applyAdvanced turns the 高级查找 form into the list's filter: every
  // filled field is one condition, all joined with and.
  applyAdvanced(form) {
    const conds = [];
    const ranges = {};
    form.querySelectorAll("[data-field]").forEach(el => {
      const v = el.value.trim();
      if (el.dataset.op === "between") {
        const r = ranges[el.dataset.field] || (ranges[el.dataset.field] = { join: "and", field: el.dataset.field, op: "between", value: "", value2: "" });
        if (el.dataset.part === "1") r.value = v; else r.value2 = v;
      } else if (v !== "") {
        conds.push({ join: "and", field: el.dataset.field, op: el.dataset.op, value: v });
      }
    });
    Object.values(ranges).forEach(r => {
      if (r.value && r.value2) conds.push(r);
      else if (r.value) conds.push({ join: "and", field: r.field, op: "gt", value: r.value + " 00:00:00" });
      else if (r.value2) conds.push({ join: "and", field: r.field, op: "lt", value: r.value2 + " 23:59:59" });
    });
    document.getElementById("filter").value = conds.length ? JSON.stringify(conds) : "";
    this.set("page", 1);
    this.submit();
  },
  // exportAs downloads the checked rows, or every row of the current filter
  // when none is checked.
  exportAs(name, format) {
    const p = new URLSearchParams(new FormData(this.form()));
    p.delete("page"); p.delete("page_size");
    p.set("format", format);
    const ids = this.checked();
    if (ids.length) p.set("ids", ids.join(","));
    window.location.href = "/" + name + "/export?" + p.toString();
  },
};

// sbBuilder is the Alpine component of 多条件综合查询: rows of join × field ×
// operator × value, applied as the list's JSON filter.
function sbBuilder(el) {
  let rows = [];
  try { rows = JSON.parse(el.dataset.filter || "[]") || []; } catch (e) { rows = []; }
  return {
    rows: rows.map(r => Object.assign({ join: "and", value2: "" }, r)),
    add() {
      const first = el.querySelector("select.field option");
      this.rows.push({ join: "and", field: first ? first.value : "", op: "eq", value: "", value2: "" });
    },
    apply() {
      const used = this.rows.filter(r => r.field && (r.value !== "" || r.op === "eq" || r.op === "ne"));
      document.getElementById("filter").value = used.length ? JSON.stringify(used) : "";
      sbList.set("page", 1);
      sbList.submit();
    },
  };
}

// sbPerm keeps the role editor's menu tree consistent: checking a menu checks
// its children, checking a child checks its parents.
const sbPerm = {
  boxes() { return Array.from(document.querySelectorAll("#role-form input[name=perm]:not(:disabled)")); },
  all(box) { this.boxes().forEach(b => { b.checked = box.checked; }); },
  toggle(box) {
    const key = box.dataset.key;
    this.boxes().forEach(b => {
      if (b.dataset.key.startsWith(key + ".")) b.checked = box.checked;
      if (box.checked && key.startsWith(b.dataset.key + ".")) b.checked = true;
    });
  },
};

document.addEventListener("htmx:afterSwap", (e) => {
  if (e.detail.target && e.detail.target.id === "dialog-body") {
    const d = document.getElementById("dialog");
    if (d && !d.open && e.detail.target.innerHTML.trim() !== "") d.showModal();
  }
});
document.addEventListener("closeDialog", () => {
  const d = document.getElementById("dialog");
  if (d && d.open) d.close();
});
document.addEventListener("htmx:responseError", (e) => {
  const flash = document.getElementById("flash");
  if (flash && e.detail.xhr && e.detail.xhr.status >= 400 && !e.detail.xhr.getResponseHeader("HX-Retarget")) {
    flash.textContent = "HTTP " + e.detail.xhr.status;
  }
});
// Errors answered with 4xx still swap (forms show their field errors).
document.addEventListener("htmx:beforeSwap", (e) => {
  if (e.detail.xhr.status === 422 || e.detail.xhr.status === 409 || e.detail.xhr.status === 400 || e.detail.xhr.status === 403 || e.detail.xhr.status === 404) {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});
// Navigation marks the active menu item.
document.addEventListener("click", (e) => {
  const a = e.target.closest("#nav a");
  if (!a) return;
  document.querySelectorAll("#nav a.active").forEach(x => x.classList.remove("active"));
  a.classList.add("active");
});
// A search box with data-filter-for="ID" narrows the options of the select
// #ID to those whose text holds what was typed (a route's callers, an
// inbound route's extension: a company may have thousands); chosen options
// stay shown.
document.addEventListener("input", (e) => {
  const id = e.target.dataset && e.target.dataset.filterFor;
  const sel = id && document.getElementById(id);
  if (!sel) return;
  const q = e.target.value.trim().toLowerCase();
  for (const o of sel.options) {
    o.hidden = q !== "" && !o.selected && !o.textContent.toLowerCase().includes(q);
  }
});
