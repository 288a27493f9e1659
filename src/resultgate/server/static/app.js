// resultgate — the results page. Plain ES module, no framework, no build step.
//
// Every value shown here comes from a result that somebody else's flow wrote: it is
// untrusted. The page therefore never uses innerHTML (or anything that parses
// markup) with data; it builds DOM nodes and sets textContent, and only puts
// same-origin http(s) URLs into href attributes.

const API = "api/";
const TOKEN_KEY = "resultgate.token";
const RUN_PAGE = 50; // task runs per page of a flow run
const TREE_CHUNK = 100; // children rendered per "show more" in the JSON tree
const TABLE_CHUNK = 100; // rows rendered per "show more" in a records table
const STRING_CAP = 400; // characters of a string shown inside the tree or a table
const TEXT_CAP = 200_000; // characters of a str value rendered before "show all"
const PREVIEW_CAP = 140; // characters of a task run's preview in a run list

// Classes the decoder builds for real (rendered as {"__class__", "data"}); any other
// tagged class is a placeholder: named by the pickle but never built.
const BUILT_MODULES = new Set([
  "builtins", "datetime", "decimal", "uuid", "fractions", "collections", "pathlib",
  "ipaddress", "re", "enum", "zoneinfo", "array", "numbers", "_decimal", "_pydecimal",
]);

const KIND_LABEL = {
  flow_run_state: "Flow-run state",
  task_run_state: "Task-run state",
  flow_run: "Flow run (its current state)",
  task_run: "Task run (its current state)",
};

const STATUS_LABEL = {
  ok: "ok",
  "no-result": "no result",
  missing: "missing",
  expired: "expired",
  "too-large": "too large",
  error: "error",
};

// ---------------------------------------------------------------- DOM helpers

/** Build an element. attrs: class, text, on<event>, dataset, or plain attributes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "href") {
      const safe = safeHref(v);
      if (safe) el.setAttribute("href", safe);
    } else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c)); // strings become text nodes
  }
  return el;
}

/** A same-origin http(s) URL, or null: never javascript:, data: or another host. */
function safeHref(value) {
  try {
    const url = new URL(String(value), document.baseURI);
    if ((url.protocol === "http:" || url.protocol === "https:") && url.origin === location.origin) {
      return url.href;
    }
  } catch {
    /* not a URL */
  }
  return null;
}

function idHref(id, offset = 0) {
  const p = new URLSearchParams({ id });
  if (offset) p.set("offset", String(offset));
  return "?" + p.toString();
}

function humanSize(n) {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "unknown size";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i += 1;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

function timeEl(ts) {
  if (!ts) return h("span", { class: "muted", text: "unknown" });
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return h("span", { text: String(ts) });
  return h("time", {
    datetime: String(ts),
    title: String(ts),
    text: d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }),
  });
}

function clip(text, cap) {
  const s = String(text);
  return s.length > cap ? s.slice(0, cap) + "…" : s;
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function compactJSON(v, cap) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return clip(s === undefined ? String(v) : s, cap);
}

// ------------------------------------------------------- recognising value forms

function isException(v) {
  return isPlainObject(v) && typeof v.__exc_type__ === "string";
}

function isTagged(v) {
  return isPlainObject(v) && typeof v.__class__ === "string" && "data" in v;
}

function isPlaceholder(v, safety) {
  if (!isTagged(v)) return false;
  const cls = v.__class__;
  // a function or class pickled by value: named, never built (its name is the data)
  if (cls === "builtins.function") return true;
  const listed = (name) =>
    Boolean(safety) &&
    ["placeholders", "code"].some((k) => Array.isArray(safety[k]) && safety[k].includes(name));
  if (cls === "builtins.type") return typeof v.data === "string" && listed(v.data);
  if (listed(cls)) return true;
  return !BUILT_MODULES.has(cls.split(".")[0]);
}

/** What a placeholder stands for, in words: "function __main__.f", "class __main__.C", or its class. */
function placeholderName(v) {
  if (v.__class__ === "builtins.function") return `function ${v.data}`;
  if (v.__class__ === "builtins.type") return `class ${v.data}`;
  return v.__class__;
}

//: the marker the gateway's renderer puts where a preview was cut
const CUT_MARK = "…(truncated)";

/** A list of dicts with mostly the same keys: shown as a table. */
function recordColumns(v) {
  if (!Array.isArray(v) || v.length === 0) return null;
  const sample = v.slice(0, 500);
  const counts = new Map();
  for (const row of sample) {
    if (!isPlainObject(row) || isTagged(row) || isException(row)) return null;
    for (const k of Object.keys(row)) counts.set(k, (counts.get(k) || 0) + 1);
  }
  if (counts.size === 0 || counts.size > 40) return null;
  let filled = 0;
  for (const c of counts.values()) filled += c;
  if (filled / (sample.length * counts.size) < 0.6) return null;
  return [...counts.keys()];
}

// ------------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(body) {
    super(body.message || "Error");
    this.code = body.code || "error";
    this.status = body.status || 0;
    this.hint = body.hint || null;
    this.details = isPlainObject(body.details) ? body.details : {};
  }
}

function authHeaders() {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

async function api(path, signal) {
  let resp;
  try {
    resp = await fetch(path, { headers: authHeaders(), signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError({
      code: "network",
      status: 0,
      message: "The gateway did not answer.",
      hint: "Check that `resultgate serve` is running and that this page is served by it.",
    });
  }
  const text = await resp.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) {
    if (isPlainObject(body) && isPlainObject(body.error)) {
      throw new ApiError({ ...body.error, status: body.error.status || resp.status });
    }
    let message = resp.statusText || `HTTP ${resp.status}`;
    if (isPlainObject(body) && body.detail !== undefined) {
      message = typeof body.detail === "string" ? body.detail : compactJSON(body.detail, 300);
    }
    throw new ApiError({ code: `http-${resp.status}`, status: resp.status, message });
  }
  if (!isPlainObject(body)) {
    throw new ApiError({
      code: "bad-response",
      status: resp.status,
      message: "The gateway answered with something that is not the JSON this page expects.",
    });
  }
  return body;
}

// ---------------------------------------------------------------- page state

const els = {};
let inflight = null; // AbortController of the view being loaded

function setStatus(text) {
  els.status.textContent = text;
}

function setBusy(busy) {
  els.main.setAttribute("aria-busy", busy ? "true" : "false");
  document.body.classList.toggle("busy", busy);
}

function currentParams() {
  const p = new URLSearchParams(location.search);
  const offset = Number.parseInt(p.get("offset") || "0", 10);
  return { id: (p.get("id") || "").trim(), offset: Number.isFinite(offset) && offset > 0 ? offset : 0 };
}

/** Go to an id (push a history entry) and show it. */
function navigate(id, offset = 0, { focusResult = false } = {}) {
  const url = new URL(location.href);
  url.search = id ? idHref(id, offset) : "";
  if (url.href !== location.href) history.pushState({ id, offset }, "", url);
  return show(id, offset, { focusResult });
}

function linkToId(id, text, cls = "idlink") {
  return h("a", {
    class: cls,
    href: idHref(id),
    onclick: (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      navigate(id, 0, { focusResult: true });
    },
    text,
  });
}

async function show(id, offset = 0, { focusResult = false } = {}) {
  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  els.input.value = id;
  if (!id) {
    els.main.replaceChildren(els.intro);
    setStatus("");
    document.title = "resultgate";
    return;
  }
  setBusy(true);
  setStatus(`Loading ${id}…`);
  document.title = `${id} · resultgate`;
  const view = [];
  try {
    const env = await api(`${API}results/${encodeURIComponent(id)}`, ctl.signal);
    // For a flow run: the run and its task runs first, then the flow's own value.
    if (env.kind === "flow_run") {
      try {
        view.push(await renderRun(env.flow_run_id || id, offset, ctl.signal));
      } catch (e) {
        if (e.name === "AbortError") return;
        view.push(renderError(e instanceof ApiError ? e : new ApiError({ message: String(e) }), id, "The run's task runs"));
      }
    }
    view.push(renderEnvelope(env));
    setStatus(`Showing the ${(KIND_LABEL[env.kind] || "result").toLowerCase()} ${id}.`);
  } catch (e) {
    if (e.name === "AbortError") return;
    if (!(e instanceof ApiError)) {
      console.error(e);
      e = new ApiError({ code: "page", status: 0, message: `This page failed: ${e.message}` });
    }
    view.push(renderError(e, id));
    if ([403, 409, 410, 413, 415, 422].includes(e.status)) {
      // The result is the problem, not the id: if the id is a flow run, its task runs
      // may still have results worth showing.
      const runId = typeof e.details.flow_run_id === "string" ? e.details.flow_run_id : id;
      try {
        view.push(await renderRun(runId, offset, ctl.signal));
      } catch (inner) {
        if (inner.name === "AbortError") return;
        /* not a flow run: the error above says it all */
      }
    }
    setStatus(`Could not show ${id}: ${e.message}`);
    if (e.status === 401) openTokenPanel();
  } finally {
    if (inflight === ctl) {
      inflight = null;
      setBusy(false);
    }
  }
  if (ctl.signal.aborted) return;
  els.main.replaceChildren(...view);
  if (focusResult) {
    const heading = els.main.querySelector("h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
}

// ------------------------------------------------------------------ a state

function badge(type) {
  const t = String(type || "UNKNOWN").toUpperCase();
  return h("span", { class: `badge state-${t.replace(/[^A-Z_]/g, "")}`, text: t });
}

function metaRow(label, ...value) {
  return [h("dt", { text: label }), h("dd", {}, ...value)];
}

function renderEnvelope(env) {
  const state = isPlainObject(env.state) ? env.state : {};
  const kindLabel = KIND_LABEL[env.kind] || "Result";
  const rows = [];
  rows.push(metaRow("Time", timeEl(state.timestamp)));
  if (state.id) rows.push(metaRow("State id", h("code", { text: state.id })));
  if (env.flow_run_id) {
    rows.push(
      metaRow(
        "Flow run",
        env.kind === "flow_run" ? h("code", { text: env.flow_run_id }) : linkToId(env.flow_run_id, env.flow_run_id),
      ),
    );
  }
  if (env.task_run_id) {
    rows.push(
      metaRow(
        "Task run",
        env.kind === "task_run" ? h("code", { text: env.task_run_id }) : linkToId(env.task_run_id, env.task_run_id),
      ),
    );
  }
  if (state.message) rows.push(metaRow("Message", h("span", { class: "message", text: state.message })));

  const actions = [];
  if (env.flow_run_id && env.kind !== "flow_run") {
    actions.push(linkToId(env.flow_run_id, "Show the whole run", "button secondary"));
  }

  const head = h(
    "header",
    { class: "state-head" },
    h("div", { class: "title-row" }, badge(state.type), h("h2", { text: state.name || state.type || "State" })),
    h("p", { class: "kind", text: kindLabel }),
    h("dl", { class: "meta" }, rows),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );

  return h(
    "article",
    { class: "panel result", "aria-label": `${kindLabel} ${env.id || ""}`.trim(), dataset: { kind: env.kind || "" } },
    head,
    h("div", { class: "result-body" }, renderValueSection(env), renderSafety(env)),
  );
}

function renderValueSection(env) {
  const section = h("section", { class: "value", "aria-labelledby": "value-title" });
  section.append(
    h(
      "h3",
      { id: "value-title" },
      "Value",
      env.value_type ? h("code", { class: "vtype", text: env.value_type }) : null,
    ),
  );
  if (env.truncated) {
    section.append(
      h(
        "div",
        { class: "notice large", role: "note" },
        h("strong", { text: `Large value: ${humanSize(env.size)} stored.` }),
        " Only a preview is shown here. ",
        downloadLink(env, "Download the whole file"),
      ),
    );
  }
  section.append(renderValue(env.value, env.safety));
  return section;
}

function renderValue(value, safety) {
  if (typeof value === "string") return textBlock(value);
  if (isException(value)) return exceptionBlock(value);
  if (isPlaceholder(value, safety)) return placeholderBlock(value, safety);
  if (isTagged(value) && (value.data === null || typeof value.data !== "object")) {
    return h(
      "div",
      { class: "tagged" },
      h("code", { class: "cls", text: value.__class__ }),
      textBlock(value.data === null ? "null" : String(value.data)),
    );
  }
  const columns = recordColumns(value);
  if (columns) return recordsBlock(value, columns, safety);
  if (value !== null && typeof value === "object") return treeBlock(value, safety);
  return textBlock(value === undefined ? "" : JSON.stringify(value), { kind: "json" });
}

function copyButton(getText, label = "Copy") {
  const btn = h("button", { type: "button", class: "copy secondary", text: label });
  btn.addEventListener("click", async () => {
    const text = getText();
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch {
      const ta = h("textarea", { class: "offscreen", "aria-hidden": "true" });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      try {
        ok = document.execCommand("copy");
      } catch {
        ok = false;
      }
      ta.remove();
    }
    btn.textContent = ok ? "Copied" : "Copy failed";
    setStatus(ok ? "Copied the value to the clipboard." : "The browser refused to copy.");
    setTimeout(() => {
      btn.textContent = label;
    }, 2000);
  });
  return btn;
}

function textBlock(text, { kind = "text" } = {}) {
  const full = String(text);
  const pre = h("pre", { class: `text-value ${kind}`, tabindex: "0", "aria-label": "Value as text" });
  const bar = h("div", { class: "toolbar" }, copyButton(() => full));
  if (full.length > TEXT_CAP) {
    pre.textContent = full.slice(0, TEXT_CAP);
    const more = h("button", {
      type: "button",
      class: "secondary",
      text: `Show all ${full.length.toLocaleString()} characters`,
      onclick: () => {
        pre.textContent = full;
        more.remove();
      },
    });
    bar.append(more);
  } else {
    pre.textContent = full;
  }
  return h("div", { class: "text-wrap" }, bar, pre);
}

function exceptionBlock(exc) {
  const cls = exc.__exc_type__;
  const short = cls.split(".").pop();
  const args = Array.isArray(exc.args) ? exc.args : [];
  const message = exc.message === undefined || exc.message === null ? "" : String(exc.message);
  const extra = args.length && !(args.length === 1 && String(args[0]) === message);
  return h(
    "div",
    { class: "exception", role: "group", "aria-label": "Exception" },
    h("p", { class: "exc-head" }, h("span", { class: "exc-class", text: short }), h("code", { class: "exc-qual", text: cls })),
    h("pre", { class: "exc-message", text: message || "(no message)" }),
    extra ? h("div", { class: "exc-args" }, h("h4", { text: "Arguments" }), treeBlock(args)) : null,
  );
}

function placeholderBlock(v, safety) {
  const data = v.data;
  return h(
    "div",
    { class: "placeholder", role: "group", "aria-label": "Object not built" },
    h("p", { class: "ph-head" }, h("span", { class: "chip warn", text: "not built" }), " ", h("code", { text: placeholderName(v) })),
    h("p", {
      class: "help",
      text:
        "The stored value is an instance of a class resultgate does not build: nothing it names was " +
        "imported or run. Below is the state the object carried.",
    }),
    data !== null && typeof data === "object" ? treeBlock(data, safety) : textBlock(JSON.stringify(data) ?? "null", { kind: "json" }),
  );
}

// --------------------------------------------------------------- JSON tree

function treeBlock(value, safety) {
  const tree = h("div", { class: "tree" });
  tree.append(treeNode(null, value, 0, safety));
  return h(
    "div",
    { class: "tree-wrap" },
    h(
      "div",
      { class: "toolbar" },
      copyButton(() => JSON.stringify(value, null, 2), "Copy JSON"),
      h("button", {
        type: "button",
        class: "secondary",
        text: "Collapse all",
        onclick: () => tree.querySelectorAll("details[open]").forEach((d) => (d.open = false)),
      }),
    ),
    tree,
  );
}

function keyEl(key) {
  if (key === null) return null;
  return h("span", { class: typeof key === "number" ? "k idx" : "k", text: typeof key === "number" ? `${key}` : key });
}

function summaryOf(value, safety) {
  if (isException(value)) return [h("span", { class: "chip err", text: "exception" }), ` ${value.__exc_type__}: ${clip(value.message ?? "", 80)}`];
  if (isPlaceholder(value, safety)) return [h("span", { class: "chip warn", text: "not built" }), " ", h("code", { text: placeholderName(value) })];
  if (isTagged(value)) return [h("code", { class: "cls", text: value.__class__ })];
  if (Array.isArray(value)) return [h("span", { class: "sum", text: `[${value.length} item${value.length === 1 ? "" : "s"}]` })];
  const n = Object.keys(value).length;
  return [h("span", { class: "sum", text: `{${n} key${n === 1 ? "" : "s"}}` })];
}

function leafEl(value) {
  if (value === null) return h("span", { class: "v null", text: "null" });
  switch (typeof value) {
    case "string": {
      const span = h("span", { class: value.endsWith(CUT_MARK) || value === "…(nested too deep)" ? "v str cut" : "v str" });
      if (value.length <= STRING_CAP) {
        span.textContent = JSON.stringify(value);
        return span;
      }
      span.textContent = JSON.stringify(value.slice(0, STRING_CAP)).slice(0, -1) + "…\"";
      const more = h("button", {
        type: "button",
        class: "link",
        text: `all ${value.length.toLocaleString()} characters`,
        onclick: () => {
          span.textContent = JSON.stringify(value);
          more.remove();
        },
      });
      return h("span", {}, span, " ", more);
    }
    case "number":
      return h("span", { class: "v num", text: String(value) });
    case "boolean":
      return h("span", { class: "v bool", text: String(value) });
    default:
      return h("span", { class: "v", text: String(value) });
  }
}

function treeNode(key, value, depth, safety) {
  // A tagged scalar (datetime, Decimal, UUID...) reads best on one line.
  if (isTagged(value) && (value.data === null || typeof value.data !== "object")) {
    if (isPlaceholder(value, safety)) {
      const name = placeholderName(value);
      return h(
        "div",
        { class: "leaf" },
        keyEl(key),
        h("span", { class: "chip warn", text: "not built" }),
        " ",
        h("code", { class: "cls", text: name }),
        name === value.__class__ ? [" ", leafEl(value.data)] : null,
      );
    }
    return h("div", { class: "leaf" }, keyEl(key), h("code", { class: "cls", text: value.__class__ }), " ", leafEl(value.data));
  }
  if (value === null || typeof value !== "object") {
    return h("div", { class: "leaf" }, keyEl(key), leafEl(value));
  }
  const size = Array.isArray(value) ? value.length : Object.keys(value).length;
  const details = h("details", { class: "node" });
  details.append(h("summary", {}, keyEl(key), summaryOf(value, safety)));
  let filled = false;
  const fill = () => {
    if (filled) return;
    filled = true;
    details.append(treeChildren(value, depth + 1, safety));
  };
  details.addEventListener("toggle", () => {
    if (details.open) fill();
  });
  // The root is open (its first chunk only); small children one level down too.
  if (depth === 0 || (depth === 1 && size <= 20)) {
    fill();
    details.open = true;
  }
  return details;
}

function treeChildren(value, depth, safety) {
  const box = h("div", { class: "kids" });
  const isArr = Array.isArray(value);
  const keys = isArr ? null : Object.keys(value);
  const total = isArr ? value.length : keys.length;
  let shown = 0;
  const more = h("button", { type: "button", class: "more secondary" });
  const renderChunk = () => {
    const end = Math.min(total, shown + TREE_CHUNK);
    const frag = document.createDocumentFragment();
    for (let i = shown; i < end; i += 1) {
      const k = isArr ? i : keys[i];
      frag.append(treeNode(k, value[k], depth, safety));
    }
    shown = end;
    if (more.isConnected) more.before(frag);
    else box.append(frag);
    if (shown < total) {
      more.textContent = `Show ${Math.min(TREE_CHUNK, total - shown)} more (${shown} of ${total.toLocaleString()} shown)`;
      if (!more.isConnected) box.append(more);
    } else {
      more.remove();
    }
  };
  more.addEventListener("click", () => {
    renderChunk();
  });
  if (total === 0) box.append(h("div", { class: "leaf muted", text: isArr ? "(empty list)" : "(empty dict)" }));
  else renderChunk();
  return box;
}

// ------------------------------------------------------------- records table

function cellEl(value) {
  if (value === undefined) return h("td", { class: "muted", text: "" });
  if (value === null) return h("td", { class: "v null", text: "null" });
  if (typeof value === "string") return h("td", { text: clip(value, STRING_CAP) });
  if (typeof value === "number") return h("td", { class: "v num", text: String(value) });
  if (typeof value === "boolean") return h("td", { class: "v bool", text: String(value) });
  if (isTagged(value) && (value.data === null || typeof value.data !== "object")) {
    return h("td", { title: value.__class__, text: value.data === null ? "null" : String(value.data) });
  }
  return h("td", { class: "json", text: compactJSON(value, 200) });
}

function recordsBlock(rows, columns, safety) {
  const table = h(
    "table",
    { class: "records" },
    h("caption", { class: "sr-only", text: `${rows.length} records` }),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c })))),
  );
  const tbody = h("tbody");
  table.append(tbody);
  let shown = 0;
  const more = h("button", { type: "button", class: "more secondary" });
  const renderRows = () => {
    const end = Math.min(rows.length, shown + TABLE_CHUNK);
    const frag = document.createDocumentFragment();
    for (let i = shown; i < end; i += 1) {
      frag.append(h("tr", {}, columns.map((c) => cellEl(rows[i][c]))));
    }
    tbody.append(frag);
    shown = end;
    if (shown < rows.length) {
      more.textContent = `Show ${Math.min(TABLE_CHUNK, rows.length - shown)} more rows (${shown} of ${rows.length.toLocaleString()} shown)`;
    } else {
      more.remove();
    }
  };
  more.addEventListener("click", renderRows);
  const scroller = h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Records table" }, table);
  const tableView = h("div", { class: "table-view" }, scroller);
  renderRows();
  if (shown < rows.length) tableView.append(more);

  let treeView = null;
  const wrap = h("div", { class: "records-wrap" });
  const tableBtn = h("button", { type: "button", "aria-pressed": "true", text: `Table (${rows.length} rows)` });
  const treeBtn = h("button", { type: "button", "aria-pressed": "false", text: "Tree" });
  const choose = (asTable) => {
    tableBtn.setAttribute("aria-pressed", String(asTable));
    treeBtn.setAttribute("aria-pressed", String(!asTable));
    if (!asTable && !treeView) {
      treeView = treeBlock(rows, safety);
      wrap.append(treeView);
    }
    tableView.hidden = !asTable;
    if (treeView) treeView.hidden = asTable;
  };
  tableBtn.addEventListener("click", () => choose(true));
  treeBtn.addEventListener("click", () => choose(false));
  wrap.append(h("div", { class: "toggle", role: "group", "aria-label": "Show the records as" }, tableBtn, treeBtn), tableView);
  return wrap;
}

// ---------------------------------------------------------------- safety

function downloadLink(env, text = "Download the raw file") {
  const href = env.raw_url ? safeHref(env.raw_url) : null;
  if (!href) return h("span", { class: "muted", text: "(no download for this result)" });
  return h("a", {
    class: "button download",
    href,
    download: "",
    onclick: async (ev) => {
      // A plain link cannot carry the gateway token: fetch it ourselves then.
      const token = sessionStorage.getItem(TOKEN_KEY);
      if (!token) return;
      ev.preventDefault();
      try {
        const resp = await fetch(href, { headers: authHeaders() });
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        const blob = await resp.blob();
        const url = URL.createObjectURL(blob);
        const a = h("a", { class: "offscreen" });
        a.setAttribute("href", url); // a blob: URL we just made, not data
        a.setAttribute("download", `result-${env.id || "raw"}`);
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (e) {
        setStatus(`The download failed: ${e.message}`);
      }
    },
    text,
  });
}

/** A collapsible list of global names; open when short or when it matters. */
function nameList(label, names, cls = "", openIfUpTo = 6) {
  const list = Array.isArray(names) ? names : [];
  const details = h(
    "details",
    { class: `names ${cls}`.trim() },
    h("summary", {}, h("span", { class: "label", text: label }), h("span", { class: "count", text: ` (${list.length})` })),
    h("ul", {}, list.map((n) => h("li", {}, h("code", { text: String(n) })))),
  );
  details.open = list.length <= openIfUpTo;
  return details;
}

function serializerText(s) {
  if (!isPlainObject(s)) return "unknown";
  const parts = [String(s.type || "unknown")];
  for (const k of ["picklelib", "jsonlib", "compressionlib"]) if (s[k]) parts.push(`${k}=${s[k]}`);
  if (isPlainObject(s.serializer)) parts.push(`of ${serializerText(s.serializer)}`);
  else if (typeof s.serializer === "string") parts.push(`of ${s.serializer}`);
  return parts.join(" ");
}

function renderSafety(env) {
  const s = isPlainObject(env.safety) ? env.safety : {};
  const warn = Boolean(s.carries_code);
  const aside = h("aside", { class: `safety ${warn ? "warn" : "ok"}`, "aria-labelledby": "safety-title" });
  aside.append(h("h3", { id: "safety-title", text: "Safety" }));
  if (warn) {
    aside.append(
      h("p", {
        class: "warning",
        role: "note",
        text: "⚠ This result carries code (functions or classes pickled by value). resultgate did not run it; unpickling it with Python would.",
      }),
    );
  }
  aside.append(h("p", { class: "verdict", text: s.verdict || "No safety report." }));
  const lists = [
    ["Not built (placeholders)", s.placeholders, "warn", 12],
    ["Code", s.code, warn ? "danger" : "", 6],
    ["Calls", s.calls, "", 3],
    ["Built", s.built, "", 0],
  ].filter(([, names]) => Array.isArray(names) && names.length);
  if (lists.length) {
    aside.append(h("div", { class: "name-lists" }, lists.map(([label, names, cls, n]) => nameList(label, names, cls, n))));
  } else {
    aside.append(h("p", { class: "muted", text: "The payload named no class or function beyond plain data." }));
  }
  aside.append(h("h3", { text: "Stored as" }));
  aside.append(
    h(
      "dl",
      { class: "meta small" },
      metaRow("Size", humanSize(env.size)),
      metaRow("Format", env.format || "unknown"),
      metaRow("Serializer", serializerText(env.serializer), env.serializer_guessed ? h("span", { class: "muted", text: " (guessed)" }) : null),
      env.location ? metaRow("Location", h("code", { class: "wrap", text: env.location })) : null,
    ),
  );
  aside.append(h("p", {}, downloadLink(env)));
  return aside;
}

// --------------------------------------------------------------- a flow run

function previewText(item) {
  if (item.status !== "ok") {
    const err = isPlainObject(item.error) ? item.error : {};
    return err.message ? clip(err.message, PREVIEW_CAP) : "";
  }
  const v = item.value;
  if (typeof v === "string") return clip(v, PREVIEW_CAP);
  if (isException(v)) return clip(`${v.__exc_type__}: ${v.message ?? ""}`, PREVIEW_CAP);
  return compactJSON(v, PREVIEW_CAP);
}

async function renderRun(flowRunId, offset, signal) {
  const path = `${API}flow_runs/${encodeURIComponent(flowRunId)}/results?limit=${RUN_PAGE}&offset=${offset}`;
  const page = await api(path, signal);
  const run = isPlainObject(page.flow_run) ? page.flow_run : {};
  const runState = isPlainObject(run.state) ? run.state : {};
  const items = Array.isArray(page.items) ? page.items : [];
  const total = typeof page.total === "number" ? page.total : items.length;
  const start = typeof page.offset === "number" ? page.offset : offset;
  const limit = typeof page.limit === "number" && page.limit > 0 ? page.limit : RUN_PAGE;

  const section = h("section", { class: "panel run", "aria-labelledby": "run-title" });
  section.append(
    h(
      "header",
      { class: "state-head" },
      h("div", { class: "title-row" }, badge(runState.type), h("h2", { id: "run-title", text: `Flow run ${run.name || flowRunId}` })),
      h(
        "dl",
        { class: "meta" },
        metaRow("Run id", h("code", { text: run.id || flowRunId })),
        metaRow("Final state", runState.name || runState.type || "unknown", " · ", timeEl(runState.timestamp)),
        metaRow("Results", `${total} (the flow run and each task run)`),
      ),
    ),
  );

  const list = h("ol", { class: "items", start: String(start + 1), "aria-label": "Results of this run" });
  for (const item of items) {
    const st = isPlainObject(item.state) ? item.state : {};
    const target = st.id || item.run_id;
    const status = String(item.status || "error");
    const body = [
      h("span", { class: "item-kind", text: item.kind === "flow_run" ? "flow" : "task" }),
      h("span", { class: "item-name", text: item.run_name || item.run_id || "?" }),
      badge(st.type),
      h("span", { class: `chip status-${status.replace(/[^a-z-]/g, "")}`, text: STATUS_LABEL[status] || status }),
      h("span", { class: "item-preview", text: previewText(item) }),
    ];
    const row = target ? linkToId(target, "", "item") : h("div", { class: "item" });
    row.textContent = "";
    append(row, body);
    row.dataset.status = status;
    list.append(h("li", {}, row));
  }
  if (!items.length) list.append(h("li", { class: "muted", text: "No results on this page." }));
  section.append(list);

  if (total > limit) {
    const last = Math.min(total, start + items.length);
    const pager = h("nav", { class: "pager", "aria-label": "Pages of results" });
    const prev = h("button", { type: "button", class: "secondary", text: "Previous", disabled: start <= 0 });
    const next = h("button", { type: "button", class: "secondary", text: "Next", disabled: start + limit >= total });
    prev.addEventListener("click", () => navigate(currentParams().id, Math.max(0, start - limit)));
    next.addEventListener("click", () => navigate(currentParams().id, start + limit));
    pager.append(prev, h("span", { class: "range", text: `${start + 1}–${last} of ${total}` }), next);
    section.append(pager);
  }
  return section;
}

// ------------------------------------------------------------------ errors

const ERRORS = {
  400: ["Not a valid request", "Check the id: it should be a UUID such as 0192f6a8-…."],
  401: ["Unauthorized", "This gateway, or the Prefect server behind it, needs a token. Paste it into the Gateway token field."],
  403: ["Refused", "The result lives somewhere this gateway may not read (outside its allowed roots or protocols)."],
  404: ["Not found", "No flow-run state, task-run state, flow run or task run has this id on the Prefect server behind this gateway."],
  409: ["No persisted result", "This state has no stored result to show."],
  410: ["Result expired", "The result's expiration has passed; its file may be gone."],
  413: ["Too large", "The value is bigger than this gateway renders. Download the raw file instead."],
  415: ["Serializer not supported", "The result was written with a serializer or library this gateway does not decode."],
  422: ["Cannot decode the result", "The stored bytes are not a valid result of their kind."],
  500: ["The gateway failed", "Something unexpected went wrong; the gateway's log has the details."],
  501: ["Not available here", "An optional backend is not installed on this gateway."],
  502: ["Prefect or the storage is unreachable", "The gateway could not reach the Prefect API or the result storage. Try again in a moment."],
  504: ["Prefect did not answer in time", "The Prefect API or the storage took too long. Try again in a moment."],
  0: ["No answer", "The gateway did not answer."],
};

function renderError(e, id, what = "") {
  const [title0, explain] =
    e.code === "page"
      ? ["This page could not show the answer", "The gateway answered, but this page failed to display it."]
      : ERRORS[e.status] || ERRORS[Math.floor(e.status / 100) * 100] || ["Error", ""];
  const title = what ? `${what}: ${title0.toLowerCase()}` : title0;
  const box = h(
    "section",
    { class: `panel error status-${e.status}`, role: "alert", "aria-labelledby": "error-title", dataset: { code: e.code } },
    h("h2", { id: "error-title" }, title, h("span", { class: "code", text: ` ${e.status || ""} ${e.code}`.trimEnd() })),
    h("p", { class: "explain", text: explain }),
    h("p", { class: "message", text: e.message }),
  );
  if (e.hint) box.append(h("p", { class: "hint" }, h("strong", { text: "Hint: " }), e.hint));
  if (e.status === 409) {
    box.append(
      h(
        "div",
        { class: "howto" },
        h("h3", { text: "How to keep results" }),
        h("p", { text: "Prefect stores a result only when persistence is on. Turn it on for a flow or a task:" }),
        h("pre", { text: "@flow(persist_result=True)\ndef my_flow(): ...\n\n@task(persist_result=True)\ndef my_task(): ..." }),
        h("p", {}, "or for every flow and task, set ", h("code", { text: "PREFECT_RESULTS_PERSIST_BY_DEFAULT=true" }), ", then run it again."),
      ),
    );
  }
  if (e.status === 413 && typeof e.details.raw_url === "string") {
    box.append(h("p", {}, downloadLink({ raw_url: e.details.raw_url, id })));
  }
  if (e.status === 404 || e.status === 400) {
    box.append(h("p", { class: "muted" }, "You asked for ", h("code", { text: id }), "."));
  }
  return box;
}

// ------------------------------------------------------------------- token

function openTokenPanel() {
  els.tokenPanel.hidden = false;
  els.tokenInput.value = "";
  els.tokenInput.focus();
}

function setupToken() {
  if (sessionStorage.getItem(TOKEN_KEY)) els.tokenPanel.hidden = false;
  els.tokenForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = els.tokenInput.value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    els.tokenInput.value = "";
    setStatus("Token saved for this tab.");
    const { id, offset } = currentParams();
    if (id) show(id, offset);
  });
  els.tokenClear.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    els.tokenInput.value = "";
    setStatus("Token forgotten.");
  });
}

// -------------------------------------------------------------------- boot

function boot() {
  els.form = document.getElementById("lookup");
  els.input = document.getElementById("id-input");
  els.main = document.getElementById("main");
  els.intro = document.getElementById("intro");
  els.status = document.getElementById("status");
  els.tokenPanel = document.getElementById("token-panel");
  els.tokenForm = document.getElementById("token-form");
  els.tokenInput = document.getElementById("token-input");
  els.tokenClear = document.getElementById("token-clear");

  els.form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = els.input.value.trim();
    if (id) navigate(id);
  });
  window.addEventListener("popstate", () => {
    const { id, offset } = currentParams();
    show(id, offset);
  });
  setupToken();
  const { id, offset } = currentParams();
  if (id) show(id, offset);
  else els.input.focus();
  document.documentElement.dataset.ready = "true";
}

boot();
