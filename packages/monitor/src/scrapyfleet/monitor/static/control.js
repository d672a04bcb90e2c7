// scrapyfleet console, control side: crawls, runs, timers, rules, jobs, events and the audit
// log from /api/ (docs/console.md). Operators get the forms and buttons; viewers only see.
// Uses el(), num(), clock(), duration() and chart() of console.js. Values are set as text.
"use strict";

const API = "api/";
let me = null;
let shownRun = null;
let shownJob = null;

async function api(path, options = {}) {
  const init = { ...options, headers: { Accept: "application/json", ...(options.headers || {}) } };
  if (init.method && init.method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers[me.csrf_header] = me.csrf;
  }
  const response = await fetch(API + path, init);
  const doc = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(doc.error || `HTTP ${response.status}`);
  return doc;
}

function status(text, failed = false) {
  const target = document.getElementById("control-status");
  target.textContent = text;
  target.className = failed ? "note error" : "note";
}

async function act(label, path, doc, method = "POST") {
  try {
    await api(path, { method, body: JSON.stringify(doc ?? {}) });
    status(`${label}: done`);
  } catch (e) {
    status(`${label}: ${e.message}`, true);
  }
  refresh();
}

function button(label, onClick) {
  const b = el("button", { type: "button", class: "operator-only", "data-action": label, text: label });
  b.addEventListener("click", onClick);
  return b;
}

const when = (t) => (t ? new Date(t * 1000).toLocaleString("en-GB") : "–");
const rows = (selector, items, colspan) => document.querySelector(`${selector} tbody`).replaceChildren(
  ...(items.length ? items : [el("tr", {}, el("td", { colspan: String(colspan), class: "note", text: "none" }))]));

function renderCrawls(crawls) {
  rows("#crawls", crawls.map((c) => el("tr", { "data-crawl": c.name },
    el("td", { text: c.name }), el("td", { text: c.spider }), el("td", { text: c.targets.join(" ") }),
    el("td", { text: String(c.runs) }),
    el("td", { "data-field": "last_state", text: c.last_run ? `${c.last_run.state} (${c.last_run.id})` : "never" }),
    el("td", {}, button("start", () => act(`start ${c.name}`, `crawls/${encodeURIComponent(c.name)}/start`)),
      button("delete", () => act(`delete ${c.name}`, `crawls/${encodeURIComponent(c.name)}`, null, "DELETE"))))), 6);
}

function renderRuns(runs) {
  rows("#runs", runs.map((r) => {
    const live = r.live && !r.live.problem ? r.live : null;
    const u = live ? live.urls : {};
    const actions = [button("details", () => { shownRun = r.id; refresh(); })];
    if (r.state === "running") actions.push(button("stop", () => act(`stop ${r.id}`, `runs/${r.id}/stop`)));
    if (r.state === "stopped" || r.state === "failed") actions.push(button("resume", () => act(`resume ${r.id}`, `runs/${r.id}/resume`)));
    return el("tr", { "data-run": r.id, "data-state": r.state },
      el("td", { text: r.id }), el("td", { text: r.definition }),
      el("td", { class: `state-${r.state}`, "data-field": "state", text: r.state }), el("td", { text: r.trigger }),
      el("td", { text: live ? `${num(u.landed)} / ${num(u.pending)} / ${num(u.failed)}` : "–" }),
      el("td", { text: live ? num(live.pages_per_second, 1) : "–" }),
      el("td", { text: r.reason ?? (r.live && r.live.problem) ?? "" }), el("td", {}, ...actions));
  }), 8);
}

async function renderRun() {
  const detail = document.getElementById("run-detail");
  if (!shownRun) return;
  const run = await api(`runs/${shownRun}`);
  detail.hidden = false;
  document.getElementById("run-id").textContent = `${run.id} · ${run.state}`;
  const s = run.summary;
  const pairs = s ? [
    ["outcome", "outcome", s.ok ? "ok" : `not ok (${s.reason})`],
    ["landed", "URLs landed", num(s.urls.landed)], ["gone", "gone", num(s.urls.gone)],
    ["no_item", "no item", num(s.urls.no_item)], ["failed", "failed", num(s.urls.failed)],
    ["index", "index complete", s.index.complete ? "yes" : s.index.crawled === false ? "no (the index crawl did not run to its end)" : `no (${s.index.failed_pages.length} pages failed)`],
    ["pages", "pages", num(s.pages)], ["pages_per_second", "pages/s", num(s.pages_per_second, 1)],
    ["wall", "wall time", duration(s.wall_seconds)], ["items", "items", num(s.items)],
  ] : [["outcome", "summary", "none yet (the run writes summary.json when it ends)"]];
  const figures = document.getElementById("run-summary");
  figures.replaceChildren(...pairs.map(([key, label, value]) =>
    el("div", { "data-field": key }, el("dt", { text: label }), el("dd", { text: value }))));
  if (s && s.urls.failed) figures.append(el("div", {}, el("dt", { text: "failed URLs" }),
    el("dd", {}, el("a", { href: `${API}runs/${run.id}/failed.jl`, download: "failed.jl", text: "failed.jl" }))));
  chart(document.getElementById("run-chart"), ["pages", "items", "landed", "failed"].map((k) =>
    ({ name: k, points: run.series.filter((p) => p[k] != null).map((p) => [p.t * 1000, p[k]]) })),
  { empty: "samples appear while the run goes" });
}

function renderTimers(timers) {
  rows("#timers", timers.map((t) => el("tr", { "data-timer": String(t.id) },
    el("td", { text: String(t.id) }), el("td", { text: t.definition }),
    el("td", { text: t.kind === "cron" ? `cron ${t.spec}` : `every ${t.spec}s` }),
    el("td", { text: `${when(t.start_at)} → ${when(t.end_at)}` }), el("td", { text: t.missed }),
    el("td", { text: t.state === "expired" ? "expired" : when(t.next_due) }),
    el("td", { text: t.last_run ?? "–" }),
    el("td", {}, button("delete", () => act(`delete timer ${t.id}`, `timers/${t.id}`, null, "DELETE"))))), 8);
}

function renderRules(rules) {
  rows("#rules", rules.map((r) => el("tr", { "data-rule": String(r.id) },
    el("td", { text: String(r.id) }), el("td", { text: r.kind }), el("td", { text: r.definition ?? "all" }),
    el("td", { text: String(r.threshold) }), el("td", { text: r.stop ? "yes" : "no" }),
    el("td", {}, button("delete", () => act(`delete rule ${r.id}`, `rules/${r.id}`, null, "DELETE"))))), 6);
}

function renderLog(id, entries, text) {
  document.getElementById(id).replaceChildren(...entries.map((e) =>
    el("li", { class: e.level || (e.result && e.result !== "ok" ? "warning" : ""), text: `${when(e.time)}  ${text(e)}` })));
}

// Job rows come from console.js; give each started one a stats button and each live one a cancel.
function decorateJobs() {
  for (const row of document.querySelectorAll("#jobs tbody tr[data-job]")) {
    if (row.querySelector("[data-action]")) continue;
    const link = row.querySelector("a");
    const cell = el("td");
    const [node, job, state] = [row.dataset.node, row.dataset.job, row.children[3].textContent];
    if (link) {
      const [, , , project, spider] = link.getAttribute("href").split("/");
      cell.append(button("stats", () => { shownJob = { node, project, spider, job }; refresh(); }));
      cell.querySelector("button").classList.remove("operator-only");
    }
    if (state !== "finished") {
      const project = latest ? latest.project : undefined;
      cell.append(button("cancel", () => act(`cancel ${job}`, "jobs/cancel", { node, job, project })));
    }
    row.append(cell);
  }
}

async function renderJob() {
  if (!shownJob) return;
  const j = shownJob;
  const stats = await api(`jobs/${j.node}/${j.project}/${j.spider}/${j.job}/stats`);
  document.getElementById("job-detail").hidden = false;
  document.getElementById("job-id").textContent = `${j.job} on ${j.node}`;
  const s = stats.summary;
  const pairs = s ? [["pages", "pages", num(s.pages)], ["items", "items", num(s.items)],
    ["errors", "errors", num(s.errors)], ["retries", "retries", num(s.retries)],
    ["finish_reason", "finish reason", s.finish_reason ?? "–"],
    ["status_codes", "status codes", Object.entries(s.status_codes).map(([k, v]) => `${k}: ${v}`).join(", ") || "–"]]
    : [["finish_reason", "stats", "none yet (Scrapy dumps them when the job closes)"]];
  document.getElementById("job-summary").replaceChildren(...pairs.map(([key, label, value]) =>
    el("div", { "data-field": key }, el("dt", { text: label }), el("dd", { text: value }))));
  chart(document.getElementById("job-chart"), ["pages", "items"].map((k) =>
    ({ name: k, points: stats.series.map((p) => [p.t * 1000, p[k]]) })), { empty: "Scrapy logs its figures once a minute" });
}

async function refresh() {
  try {
    const [crawls, runs, timers, rules, events, audit] = await Promise.all(
      ["crawls", "runs", "timers", "rules", "events?limit=50", "audit"].map((p) => api(p)));
    renderCrawls(crawls);
    renderRuns(runs);
    renderTimers(timers);
    renderRules(rules);
    renderLog("console-events", events, (e) => `${e.event} ${e.text ?? e.reason ?? e.run ?? ""}`);
    renderLog("audit", audit, (a) => `${a.who} (${a.role}) ${a.action} ${a.target}: ${a.result}`);
    await renderRun();
    await renderJob();
  } catch (e) {
    status(`control: ${e.message}`, true);
  }
}

function form(id, label, path, read) {
  document.getElementById(id).addEventListener("submit", (event) => {
    event.preventDefault();
    let doc;
    try {
      doc = read(Object.fromEntries(new FormData(event.target)));
    } catch (e) {
      status(`${label}: ${e.message}`, true);
      return;
    }
    act(label, path, doc);
  });
}

const words = (text) => (text || "").split(/\s+/).filter(Boolean);
const parsed = (text) => (text && text.trim() ? JSON.parse(text) : {});

async function start() {
  const response = await fetch(API + "me", { headers: { Accept: "application/json" } });
  if (!response.ok) return;  // no --state-dir: the console only shows
  me = await response.json();
  document.body.dataset.role = me.role;
  document.getElementById("control").hidden = false;
  document.getElementById("whoami").textContent = `${me.user} · ${me.role}`;
  form("crawl-form", "save crawl", "crawls", (f) => ({ ...f, targets: words(f.targets), options: parsed(f.options) }));
  form("timer-form", "add timer", "timers", (f) => ({ ...f, start_at: f.start_at || null, end_at: f.end_at || null }));
  form("rule-form", "add rule", "rules", (f) => ({ kind: f.kind, definition: f.definition || null,
    threshold: Number(f.threshold), stop: f.stop === "on" }));
  form("job-form", "schedule job", "jobs", (f) => ({ nodes: words(f.nodes), spider: f.spider,
    ...(f.project ? { project: f.project } : {}), args: parsed(f.args), settings: parsed(f.settings) }));
  new MutationObserver(decorateJobs).observe(document.querySelector("#jobs tbody"), { childList: true });
  refresh();
  setInterval(refresh, 2000);
}

start();
