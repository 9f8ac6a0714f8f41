// The sluice web console: reads the admin listener's JSON API (/api/v1/...) and shows topics
// with their throughput, consumer groups with their lag, and a record browser. Plain JavaScript,
// no libraries; every value from the broker goes into the page as text, never as HTML.
"use strict";

const REFRESH_MS = 2000;
const COLORS = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5f3dc4", "#087f5b",
  "#e67700"];
const state = { topic: null, group: null, nextOffset: null };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function td(value, cls) { return el("td", cls ? { class: cls } : {}, value); }

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function fmtRate(n) { return n >= 100 ? Math.round(n).toString() : n.toFixed(1); }

function fmtSeconds(s) {
  if (s === null || s === undefined) return "unknown";
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return (s / 60).toFixed(1) + " min";
  return (s / 3600).toFixed(1) + " h";
}

async function api(path) {
  const r = await fetch("/api/v1/" + path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function setStatus(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!isError);
}

function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

// --- topics --------------------------------------------------------------------------------

async function refreshTopics() {
  const data = await api("topics");
  const rows = data.topics.map((t) => {
    const tr = el("tr", { class: "clickable" + (t.name === state.topic ? " selected" : ""),
      "data-topic": t.name },
    td(t.name, "name"), td(t.partitions, "num partitions"), td(t.records, "num records"),
    td(fmtBytes(t.size_bytes), "num size"),
    td(fmtRate(t.rates.records_in_per_sec), "num records-in-rate"),
    td(fmtRate(t.rates.bytes_in_per_sec), "num bytes-in-rate"),
    td(fmtRate(t.rates.records_out_per_sec), "num records-out-rate"));
    tr.addEventListener("click", () => { state.topic = t.name; refreshTopicDetail(); });
    return tr;
  });
  replaceRows($("topic-table").tBodies[0], rows);
  // The record browser's topic list.
  const select = $("rb-topic");
  const chosen = select.value;
  const names = data.topics.map((t) => t.name);
  if (names.join("\n") !== Array.from(select.options).map((o) => o.value).join("\n")) {
    select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    if (names.includes(chosen)) select.value = chosen;
  }
  if (state.topic) await refreshTopicDetail();
}

async function refreshTopicDetail() {
  const name = state.topic;
  let data;
  try {
    data = await api("topics/" + encodeURIComponent(name));
  } catch (e) {
    $("topic-detail").hidden = true;
    state.topic = null;
    return;
  }
  $("topic-detail-name").textContent = name;
  const rows = data.partitions.map((p) => {
    const browse = el("button", { type: "button" }, "browse");
    browse.addEventListener("click", () => {
      $("rb-topic").value = name;
      $("rb-partition").value = p.partition;
      $("rb-mode").value = "newest";
      loadRecords();
      location.hash = "#records";
    });
    if (p.offline) {
      return el("tr", { "data-partition": p.partition }, td(p.partition, "num"),
        el("td", { colSpan: 7 }, "offline: " + p.offline), td(""));
    }
    return el("tr", { "data-partition": p.partition },
      td(p.partition, "num"), td(p.log_start_offset, "num start"),
      td(p.high_watermark, "num end"), td(p.records, "num records"),
      td(fmtBytes(p.size_bytes), "num size"), td(p.segments, "num"),
      td(fmtRate(p.rates.records_in_per_sec), "num records-in-rate"),
      td(fmtRate(p.rates.records_out_per_sec), "num records-out-rate"), el("td", {}, browse));
  });
  replaceRows($("partition-table").tBodies[0], rows);
  $("topic-detail").hidden = false;
  for (const tr of $("topic-table").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.topic === name);
  }
}

// --- the throughput chart (inline SVG) -------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

async function refreshChart() {
  const minutes = $("chart-minutes").value;
  const data = await api("throughput?minutes=" + minutes);
  const chart = $("throughput-chart");
  const W = 800, H = 220, L = 60, R = 10, T = 10, B = 30;
  const now = Date.now();
  const t0 = now - minutes * 60000;
  let max = 1;
  for (const t of data.topics) for (const p of t.points) max = Math.max(max, p.records_in_per_sec);
  const x = (ms) => L + (W - L - R) * Math.max(0, ms - t0) / (now - t0);
  const y = (v) => H - B - (H - B - T) * v / max;
  const parts = [svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#999" }),
    svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#999" }),
    svg("text", { x: L - 5, y: T + 10, "text-anchor": "end", "font-size": 11 }, fmtRate(max)),
    svg("text", { x: L - 5, y: H - B, "text-anchor": "end", "font-size": 11 }, "0"),
    svg("text", { x: L, y: H - 8, "font-size": 11 }, "-" + minutes + " min"),
    svg("text", { x: W - R, y: H - 8, "text-anchor": "end", "font-size": 11 }, "now")];
  const legend = [];
  data.topics.forEach((t, i) => {
    const color = COLORS[i % COLORS.length];
    const points = t.points.map((p) => x(p.time_ms).toFixed(1) + "," +
      y(p.records_in_per_sec).toFixed(1)).join(" ");
    const line = svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 1.5,
      "data-topic": t.topic });
    line.append(svg("title", {}, t.topic));
    parts.push(line);
    legend.push(el("span", { class: "legend-item", "data-topic": t.topic },
      el("span", { class: "legend-swatch", style: "background:" + color }), t.topic));
  });
  chart.replaceChildren(...parts);
  $("chart-legend").replaceChildren(...legend);
}

// --- consumer groups -------------------------------------------------------------------------

async function refreshGroups() {
  const data = await api("groups");
  const rows = data.groups.map((g) => {
    const tr = el("tr", { class: "clickable" + (g.group === state.group ? " selected" : ""),
      "data-group": g.group },
    td(g.group, "name"), td(g.state, "state"), td(g.members, "num members"),
    td(g.topics.join(", "), "topics"), td(g.lag_records, "num lag-records"),
    td(fmtSeconds(g.lag_seconds), "num lag-seconds"));
    tr.addEventListener("click", () => { state.group = g.group; refreshGroupDetail(); });
    return tr;
  });
  replaceRows($("group-table").tBodies[0], rows);
  if (state.group) await refreshGroupDetail();
}

async function refreshGroupDetail() {
  const name = state.group;
  let g;
  try {
    g = await api("groups/" + encodeURIComponent(name));
  } catch (e) {
    $("group-detail").hidden = true;
    state.group = null;
    return;
  }
  $("group-detail-name").textContent = name;
  $("group-detail-state").textContent = g.state;
  replaceRows($("member-table").tBodies[0], g.members.map((m) => el("tr", {},
    td(m.member_id), td(m.client_id), td(m.client_host),
    td(m.assignment === null ? "" : m.assignment.map((a) => a.topic + " [" +
      a.partitions.join(", ") + "]").join("; ")))));
  replaceRows($("offset-table").tBodies[0], g.offsets.map((o) => el("tr", {
    "data-topic": o.topic, "data-partition": o.partition },
  td(o.topic), td(o.partition, "num"), td(o.committed_offset, "num committed"),
  td(o.log_end_offset, "num end"), td(o.lag_records, "num lag-records"),
  td(fmtSeconds(o.lag_seconds), "num lag-seconds"), td(o.commit_time))));
  $("group-detail").hidden = false;
  for (const tr of $("group-table").tBodies[0].rows) {
    tr.classList.toggle("selected", tr.dataset.group === name);
  }
}

// --- the record browser ----------------------------------------------------------------------

// A record field: null, text (pretty-printed when it is JSON), or {"base64": ...}.
function fieldCell(v, cls) {
  if (v === null) return el("td", { class: cls }, el("span", { class: "null" }, "null"));
  if (typeof v === "object") {
    return el("td", { class: cls }, el("pre", { class: "base64" }, v.base64));
  }
  let text = v;
  const trimmed = v.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try { text = JSON.stringify(JSON.parse(v), null, 2); } catch (e) { /* not JSON: as is */ }
  }
  return el("td", { class: cls }, el("pre", {}, text));
}

function headersText(headers) {
  return headers.map((h) => {
    const show = (v) => v === null ? "null" : typeof v === "object" ? "base64:" + v.base64 : v;
    return show(h.key) + "=" + show(h.value);
  }).join("\n");
}

async function loadRecords(fromOffset) {
  const topic = $("rb-topic").value;
  if (!topic) return;
  const q = new URLSearchParams({ topic, partition: $("rb-partition").value || "0",
    limit: $("rb-limit").value || "20" });
  const mode = $("rb-mode").value;
  if (fromOffset !== undefined) q.set("offset", fromOffset);
  else if (mode === "offset") q.set("offset", $("rb-from").value.trim());
  else if (mode === "time") q.set("time", $("rb-from").value.trim());
  let data;
  try {
    data = await api("records?" + q.toString());
  } catch (e) {
    $("rb-summary").textContent = "error: " + e.message;
    replaceRows($("record-table").tBodies[0], []);
    $("rb-next").disabled = true;
    return;
  }
  $("rb-summary").textContent = data.records.length + " record(s) of " + data.topic + "/" +
    data.partition + " from offset " + data.start_offset + " (partition offsets " +
    data.log_start_offset + " to " + data.high_watermark + ")";
  replaceRows($("record-table").tBodies[0], data.records.map((r) => el("tr", {
    "data-offset": r.offset },
  td(r.offset, "num offset"), td(r.time, "time"), fieldCell(r.key, "key"),
  fieldCell(r.value, "value"), el("td", { class: "headers" }, el("pre", {},
    headersText(r.headers))))));
  state.nextOffset = data.next_offset;
  $("rb-next").disabled = data.next_offset >= data.high_watermark;
}

// --- refresh loop ----------------------------------------------------------------------------

async function refreshAll() {
  try {
    await Promise.all([refreshTopics(), refreshGroups(), refreshChart()]);
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus("cannot reach the broker: " + e.message, true);
  }
}

function start() {
  $("browser-form").addEventListener("submit", (e) => { e.preventDefault(); loadRecords(); });
  $("rb-next").addEventListener("click", () => loadRecords(state.nextOffset));
  $("chart-minutes").addEventListener("change", refreshChart);
  refreshAll();
  setInterval(refreshAll, REFRESH_MS);
}

start();
