// scrapyfleet console: renders each snapshot pushed over server-sent events (no build step, no
// dependencies). Every value from the nodes is set as text, never as HTML. A missing value shows
// as "–", one that is not a finite number as "n/a"; a part that cannot be drawn says so and the
// others still update.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1a7f37", "#2f9e44", "#74b816", "#c62828", "#e8590c", "#ae3ec9", "#2f6fdb"];
let latest = null;
let receivedAt = 0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text != null) node.textContent = text;
  return node;
}

const finite = (v) => typeof v === "number" && Number.isFinite(v);
const shown = (v, format) => (v == null ? "–" : finite(v) ? format(v) : "n/a");
const num = (v, digits = 0) =>
  shown(v, (x) => x.toLocaleString("en", { maximumFractionDigits: digits }));
const signed = (v, digits) => shown(v, (x) => `${x >= 0 ? "+" : ""}${x.toFixed(digits)}`);

function bytes(v) {
  if (!finite(v)) return shown(v);
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${num(v, i ? 1 : 0)} ${units[i]}`;
}

function duration(s) {
  if (!finite(s)) return shown(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.round(s % 60);
  return h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
}

const ms = (seconds) => shown(seconds, (s) => `${Math.round(s * 1000)} ms`);

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString("en-GB") : "never";
}

function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  return s < 1.5 ? "just now" : `${duration(s)} ago`;
}

function figures(target, pairs) {
  target.replaceChildren(
    ...pairs.map(([key, label, value]) =>
      el("div", { "data-field": key }, el("dt", { text: label }), el("dd", { text: value }))),
  );
}

function panelNote(target, panel, offText, failedText) {
  target.className = "note";
  if (panel.state === "off") target.textContent = offText;
  else if (panel.state === "failed") {
    target.textContent = `${failedText}: ${panel.reason}`;
    target.className = "note failed";
  } else target.textContent = "";
  target.dataset.state = panel.state;
}

function renderNodes(snap) {
  const cards = snap.nodes.map((n) => {
    const slots = n.slots ?? null;
    const fill = slots ? Math.min(100, (100 * n.running) / slots) : n.running ? 100 : 0;
    return el("article", { class: n.up ? "node" : "node down", "data-node": n.name, "data-up": String(n.up) },
      el("div", { class: "head" },
        el("span", { class: "name", text: n.name }),
        el("span", { class: "badge", "data-field": "state", text: n.up ? "UP" : "DOWN" })),
      el("div", { class: "url", text: n.url }),
      el("div", { class: "bar", title: "running / slots" }, el("span", { style: `width:${fill}%` })),
      el("div", { class: "counts" },
        el("span", {}, el("b", { "data-field": "running", text: String(n.running) }),
          `running of ${slots ?? "?"}`),
        el("span", {}, el("b", { "data-field": "pending", text: String(n.pending) }), "pending"),
        el("span", {}, el("b", { "data-field": "finished", text: String(n.finished) }), "finished")),
      n.up ? null : el("div", { class: "reason", "data-field": "reason", text: `down: ${n.reason}` }),
      el("div", { class: "when", "data-field": "last_answer", "data-time": n.last_answer ?? "",
        text: `last answer ${ago(n.last_answer)} · ${ms(n.latency)}` }));
  });
  document.getElementById("nodes").replaceChildren(...cards);
}

function renderJobs(snap) {
  const rows = [];
  for (const n of snap.nodes) {
    for (const job of n.jobs) {
      const id = job.log
        ? el("a", { href: job.log.replace(/^\//, ""), target: "_blank", rel: "noopener", text: job.id })
        : document.createTextNode(job.id);
      rows.push(el("tr", { "data-job": job.id, "data-node": n.name },
        el("td", { text: n.name }), el("td", {}, id), el("td", { text: job.spider }),
        el("td", { class: `state-${job.state}`, text: job.state }),
        el("td", { text: job.start_time ?? "" }), el("td", { text: job.end_time ?? "" })));
    }
  }
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "6", class: "note", text: "no jobs" })));
  document.querySelector("#jobs tbody").replaceChildren(...rows);
}

function renderCrawl(crawl) {
  panelNote(document.getElementById("crawl-state"), crawl,
    "no crawl-master configured (--crawl-metrics URL)", "crawl-master not answering");
  const target = document.getElementById("crawl");
  if (crawl.state !== "ok") {
    target.replaceChildren();
    chart(document.getElementById("pages-chart"), [], { empty: "no crawl figures" });
    return;
  }
  const b = crawl.batches, u = crawl.urls, nodes = crawl.nodes;
  const status = crawl.outcome ? `finished: ${crawl.outcome}` : "running";
  figures(target, [
    ["status", "status", status],
    ["batches", "batches queued / running / done / failed",
      `${num(b.queued)} / ${num(b.running)} / ${num(b.done)} / ${num(b.failed)}`],
    ["urls_landed", "URLs landed", num(u.landed)],
    ["urls_pending", "URLs pending", num(u.pending)],
    ["urls_failed", "URLs failed", num(u.failed)],
    ["urls_gone", "gone / no item", `${num(u.gone)} / ${num(u.no_item)}`],
    ["pages", "pages", num(crawl.pages)],
    ["items", "items", num(crawl.items)],
    ["pages_per_second", "pages/s", num(crawl.pages_per_second, 1)],
    ["eta", "ETA", crawl.outcome ? "done" : duration(crawl.eta_seconds)],
    ["retries", "attempts / retries", `${num(crawl.attempts)} / ${num(crawl.retries)}`],
    ["nodes", "nodes usable / set aside", `${num(nodes.usable)} / ${num(nodes.set_aside)}`],
  ]);
  chart(document.getElementById("pages-chart"),
    [{ name: "pages/s", points: crawl.history.map(([t, v]) => [t * 1000, v]) }],
    { empty: "pages/s appear after two polls", digits: 1 });
}

function renderIngest(ingest) {
  const pairs = [];
  const items = ingest.items, sink = ingest.ftpsink;
  if (items.state === "ok") pairs.push(["files", "files landed", num(items.files)], ["bytes", "bytes landed", bytes(items.bytes)]);
  else pairs.push(["files", "items directory", items.state === "off" ? "not configured (--items DIR)" : items.reason]);
  if (sink.state === "ok") {
    const up = sink.uploads;
    pairs.push(["uploads", "uploads landed / refused / aborted", `${num(up.landed)} / ${num(up.refused)} / ${num(up.aborted)}`],
      ["sink_bytes", "ftpsink bytes", bytes(sink.bytes)]);
  } else pairs.push(["uploads", "ftpsink", sink.state === "off" ? "not configured (--ftpsink-metrics URL)" : `not answering: ${sink.reason}`]);
  figures(document.getElementById("ingest"), pairs);
}

function wordRows(table, rows) {
  table.querySelector("tbody").replaceChildren(...rows.map((w) =>
    el("tr", { "data-word": w.word },
      el("td", { class: "word", text: w.word }),
      el("td", { class: "shift num", text: w.shift == null ? "n/a" : signed(w.shift, 3) }),
      el("td", { class: "count num", text: shown(w.count, String) }))));
}

function renderAnalysis(a) {
  const note = document.getElementById("analysis-state");
  panelNote(note, a,
    "no analytics output configured (--analytics-output DIR)", "analytics output unreadable");
  const ok = a.state === "ok";
  if (ok && a.non_finite) {
    note.textContent = `${a.non_finite} numbers in the analytics output are not finite: shown as n/a`;
    note.className = "note failed";
  }
  figures(document.getElementById("analysis"), ok ? [
    ["listings", "listings counted", num(a.listings)],
    ["bad_records", "bad records", num(a.bad_records)],
    ["avg_price", "average price", num(a.avg_price, 2)],
    ["word_count", "words ranked", num(a.word_count)],
    ["updated_at", "last update", clock(a.updated_at)],
    ["batch_id", "micro-batch", num(a.batch_id)],
  ] : []);
  wordRows(document.getElementById("top-words"), ok ? a.top : []);
  wordRows(document.getElementById("bottom-words"), ok ? a.bottom : []);
  chart(document.getElementById("listings-chart"),
    ok ? [{ name: "listings", points: a.progress.map(([t, v]) => [new Date(t).getTime(), v]) }] : [],
    { empty: "no progress.json yet" });
  chart(document.getElementById("shifts-chart"),
    ok ? Object.entries(a.shifts).map(([word, pts]) => ({ name: word, points: pts.map(([t, v]) => [t * 1000, v]) })) : [],
    { empty: "no shifts yet", digits: 2 });
}

function renderEvents(events) {
  const items = events.map((e) => {
    const what = e.event === "job_vanished" ? `job ${e.job} (${e.spider}) vanished from ${e.node}`
      : e.event === "node_down" ? `${e.node} down: ${e.reason}`
      : e.event === "node_recovered" ? `${e.node} recovered`
      : `crawl ${e.outcome === "failed" ? "failed" : "finished"}`;
    return el("li", { class: e.level, text: `${clock(e.time)}  ${what}` });
  });
  if (!items.length) items.push(el("li", { class: "note", text: "nothing notable yet" }));
  document.getElementById("events").replaceChildren(...items);
}

// A line chart of [x, y] series in an SVG with a 600x170 viewBox: y range labels, time span.
function chart(target, series, { empty = "no data", digits = 0 } = {}) {
  const W = 600, H = 170, L = 48, R = 90, T = 10, B = 22;
  series = series.map((s) => ({ ...s, points: s.points.filter(([x, y]) => finite(x) && finite(y)) }));
  const all = series.flatMap((s) => s.points);
  target.replaceChildren();
  if (all.length < 2) {
    target.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, empty));
    return;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (y0 > 0 && digits === 0) y0 = 0;
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 1; y0 -= y0 ? 1 : 0; }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - T - B);
  target.append(
    svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
    svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
    svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, num(y1, digits)),
    svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, num(y0, digits)),
    svg("text", { x: L, y: H - 6 }, new Date(x0).toLocaleTimeString("en-GB")),
    svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, new Date(x1).toLocaleTimeString("en-GB")),
  );
  if (y0 < 0 && y1 > 0) target.append(svg("line", { x1: L, y1: py(0), x2: W - R, y2: py(0), class: "axis" }));
  const labels = [];
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const color = COLORS[i % COLORS.length];
    const points = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    target.append(svg("polyline", { points, class: "series", stroke: color }));
    labels.push({ name: s.name, color, y: py(s.points[s.points.length - 1][1]) + 4 });
  });
  labels.sort((a, b) => a.y - b.y);  // end labels at least 11 px apart, top to bottom
  labels.forEach((label, i) => {
    const y = Math.max(label.y, T + 8, i ? labels[i - 1].y + 11 : 0);
    label.y = y;
    target.append(svg("text", { x: W - R + 4, y, style: `fill:${label.color}` }, label.name));
  });
}

function renderSummary(snap) {
  const t = snap.totals;
  document.getElementById("summary").textContent =
    `${t.up}/${t.up + t.down} nodes up · ${t.running} running · ${t.pending} pending · ` +
    `${t.finished} finished · poll every ${snap.interval}s`;
  document.getElementById("project").textContent = `project ${snap.project}`;
}

// Each part drawn on its own: one that fails (a value of an unexpected shape) says so in its own
// place and leaves the others, node status first, updating.
const PARTS = [
  ["#summary", renderSummary], ["#nodes", renderNodes], ["#jobs tbody", renderJobs],
  ["#crawl-state", (snap) => renderCrawl(snap.crawl)], ["#ingest", (snap) => renderIngest(snap.ingest)],
  ["#analysis-state", (snap) => renderAnalysis(snap.analysis)], ["#events", (snap) => renderEvents(snap.events)],
];

function render(snap) {
  for (const [where, draw] of PARTS) {
    try {
      draw(snap);
    } catch (error) {
      console.error(`cannot show ${where}:`, error);
      document.querySelector(where).replaceChildren(
        el(where.endsWith("tbody") ? "tr" : "span", { class: "note failed", "data-error": where },
          `cannot show this part: ${error}`));
    }
  }
}

function setLive(state, text) {
  const live = document.getElementById("live");
  live.className = `live ${state}`;
  live.textContent = text;
  live.dataset.state = state;
}

function tick() {
  if (!latest) return;
  const age = (Date.now() - receivedAt) / 1000;
  if (age > 2 * latest.interval + 5) setLive("stale", `no update for ${duration(age)}`);
  for (const when of document.querySelectorAll("[data-field=last_answer]")) {
    const node = latest.nodes.find((n) => n.name === when.closest("[data-node]").dataset.node);
    if (node) when.textContent = `last answer ${ago(node.last_answer)} · ${ms(node.latency)}`;
  }
}

function connect() {
  const source = new EventSource("events");
  source.addEventListener("snapshot", (event) => {
    try {
      latest = JSON.parse(event.data);
    } catch (error) {
      setLive("off", `unreadable update (${error.name}); waiting for the next`);
      return;
    }
    receivedAt = Date.now();
    document.body.dataset.poll = String(latest.poll);
    render(latest);
    setLive("on", `live · ${clock(latest.time)}`);
  });
  source.onerror = () => {
    setLive("off", "reconnecting…");
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 10000);  // refused: retry
  };
}

connect();
setInterval(tick, 1000);
