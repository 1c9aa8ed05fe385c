// The aisle console: four pages over the server's public API, with the admin
// key entered once and kept in this tab (sessionStorage). Every value from
// the server is put in the page as text (el()), never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("aisleKey") || "", timer: null, charts: [], history: [] };

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick" || k === "onsubmit") e[k] = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options) {
  const o = Object.assign({ headers: {} }, options || {});
  o.headers["X-API-Key"] = state.key;
  if (o.body !== undefined) o.headers["Content-Type"] = "application/json";
  const r = await fetch(path, o);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
  if (r.status === 401 || r.status === 403) {
    showLogin(body && body.error ? body.error.message : "the key was refused");
    throw new ApiError(r.status, "key refused");
  }
  if (!r.ok) throw new ApiError(r.status, body && body.error ? body.error.message : ("HTTP " + r.status));
  return body;
}

// The answer at `path`, or null once `page` says why there is none (404: the
// server was started without what it needs, e.g. a publish directory).
async function apiOrAbsent(page, path) {
  try {
    return await api(path);
  } catch (e) {
    if (e.status === 404) { page.append(el("p", { class: "muted" }, e.message)); return null; }
    throw e;
  }
}

function showLogin(message) {
  state.key = "";
  sessionStorage.removeItem("aisleKey");
  document.getElementById("login").hidden = false;
  document.getElementById("forget").hidden = true;
  document.getElementById("page").replaceChildren();
  document.getElementById("loginerror").textContent = message || "";
  stopPolling();
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  for (const c of state.charts) c.destroy();
  state.charts = [];
}

function card(label, value, id) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value", id: id }, value));
}

function chart(canvas, config) {
  if (!window.Chart) {
    canvas.replaceWith(el("p", { class: "muted" }, "Charts need Chart.js (Debian: libjs-chart.js)."));
    return null;
  }
  config.options = Object.assign({ animation: false, maintainAspectRatio: false, responsive: true }, config.options || {});
  const c = new Chart(canvas, config);
  state.charts.push(c);
  return c;
}

// --- Prometheus text: the samples of the metrics the overview reads.
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)$/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const p of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]] = p[2];
    samples.push({ name: m[1], labels: labels, value: Number(m[4]) });
  }
  return samples;
}

function sum(samples, name, filter) {
  return samples.filter((s) => s.name === name && (!filter || filter(s.labels))).reduce((a, s) => a + s.value, 0);
}

// Quantile q of the request latency between two scrapes, from the histogram's buckets.
function quantile(prev, cur, q) {
  const buckets = new Map();
  for (const s of cur) {
    if (s.name !== "aisle_request_duration_seconds_bucket" || s.labels.endpoint === "metrics") continue;
    buckets.set(s.labels.le, (buckets.get(s.labels.le) || 0) + s.value);
  }
  for (const s of prev) {
    if (s.name !== "aisle_request_duration_seconds_bucket" || s.labels.endpoint === "metrics") continue;
    buckets.set(s.labels.le, (buckets.get(s.labels.le) || 0) - s.value);
  }
  const les = [...buckets.keys()].sort((a, b) => (a === "+Inf" ? 1 : b === "+Inf" ? -1 : Number(a) - Number(b)));
  const total = buckets.get("+Inf") || 0;
  if (total <= 0) return null;
  for (const le of les) if (buckets.get(le) >= q * total) return le === "+Inf" ? Infinity : Number(le);
  return null;
}

function ms(seconds) {
  if (seconds === null) return "–";
  if (seconds === Infinity) return "> 30 s";
  return seconds < 0.001 ? "≤ " + (seconds * 1000).toFixed(2) + " ms" : "≤ " + (seconds * 1000).toFixed(1) + " ms";
}

function age(iso) {
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!isFinite(s)) return "";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 172800) return (s / 3600).toFixed(1) + " h ago";
  return (s / 86400).toFixed(1) + " days ago";
}

// --- Overview.
async function overview(page) {
  page.append(el("h2", {}, "Overview"));
  const cards = el("div", { class: "cards" },
    card("Serving model", "…", "ov-model"), card("Algorithm", "…", "ov-algorithm"),
    card("Trained on", "…", "ov-data"), card("Model loaded", "…", "ov-loaded"),
    card("Requests/s", "…", "ov-rps"), card("Latency p50 / p99", "…", "ov-latency"),
    card("Errors (5xx) /s", "…", "ov-errors"), card("Events/s", "…", "ov-events"),
    card("Live customers", "…", "ov-live"), card("Reloads", "…", "ov-reloads"));
  const rpsCanvas = el("canvas", { id: "chart-rps" });
  const latCanvas = el("canvas", { id: "chart-latency" });
  page.append(cards, el("div", { class: "charts" }, el("div", { class: "chart" }, rpsCanvas),
                         el("div", { class: "chart" }, latCanvas)),
              el("p", { class: "muted" }, "From GET /v1/model, /readyz and /metrics, every 3 seconds."));
  const rpsChart = chart(rpsCanvas, { type: "line", data: { labels: [], datasets: [
    { label: "requests/s", data: [], borderColor: "#2f6fdf" }, { label: "events/s", data: [], borderColor: "#1f7a3a" }] } });
  const latChart = chart(latCanvas, { type: "line", data: { labels: [], datasets: [
    { label: "p50 ms", data: [], borderColor: "#7a5af5" }, { label: "p99 ms", data: [], borderColor: "#c0262d" }] } });
  let prev = null;
  const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
  async function tick() {
    const [model, text] = await Promise.all([api("/v1/model"), fetch("/metrics").then((r) => r.text())]);
    const now = { t: Date.now() / 1000, samples: parseMetrics(text) };
    const meta = model.metadata || {};
    set("ov-model", model.model_version);
    set("ov-algorithm", (meta.algorithm || "ials") + ", " + model.customers + " customers × " + model.products + " products");
    const d = meta.data || {};
    set("ov-data", d.first_event ? (d.first_event.slice(0, 10) + " to " + d.last_event.slice(0, 10)) : "unknown");
    const loaded = sum(now.samples, "aisle_model_loaded_timestamp_seconds");
    set("ov-loaded", loaded ? new Date(loaded * 1000).toISOString().replace(".000", "") + " (" + age(new Date(loaded * 1000).toISOString()) + ")" : "–");
    set("ov-live", sum(now.samples, "aisle_live_customers"));
    const okReloads = sum(now.samples, "aisle_model_reloads_total", (l) => l.result === "ok");
    const failed = sum(now.samples, "aisle_model_reloads_total", (l) => l.result === "failed");
    set("ov-reloads", okReloads + " ok, " + failed + " failed");
    if (prev) {
      const dt = now.t - prev.t;
      const reqs = (s) => sum(s, "aisle_requests_total", (l) => l.endpoint !== "metrics");
      const errs = (s) => sum(s, "aisle_requests_total", (l) => l.status >= "500");
      const evs = (s) => sum(s, "aisle_events_total", (l) => l.outcome === "accepted");
      const rps = (reqs(now.samples) - reqs(prev.samples)) / dt;
      const eps = (evs(now.samples) - evs(prev.samples)) / dt;
      const p50 = quantile(prev.samples, now.samples, 0.5), p99 = quantile(prev.samples, now.samples, 0.99);
      set("ov-rps", rps.toFixed(1));
      set("ov-events", eps.toFixed(1));
      set("ov-errors", ((errs(now.samples) - errs(prev.samples)) / dt).toFixed(2));
      set("ov-latency", ms(p50) + " / " + ms(p99));
      const label = new Date().toLocaleTimeString();
      for (const [c, values] of [[rpsChart, [rps, eps]], [latChart, [p50 === null ? null : p50 * 1000, p99 === null || p99 === Infinity ? null : p99 * 1000]]]) {
        if (!c) continue;
        c.data.labels.push(label);
        values.forEach((v, i) => c.data.datasets[i].data.push(v));
        if (c.data.labels.length > 60) { c.data.labels.shift(); c.data.datasets.forEach((s) => s.data.shift()); }
        c.update();
      }
    }
    prev = now;
  }
  await tick();
  state.timer = setInterval(() => tick().catch(() => {}), 3000);
}

// --- Models.
async function models(page) {
  page.append(el("h2", {}, "Models"));
  const list = await apiOrAbsent(page, "/v1/admin/models");
  if (list === null) return;
  page.append(el("p", { class: "muted" }, "Published versions in " + list.publish_dir + "; serving " + (list.serving || "nothing") + "."));
  const gated = list.versions.filter((v) => v.gate && v.gate.candidate !== undefined);
  const canvas = el("canvas", { id: "chart-models" });
  page.append(el("div", { class: "chart" }, canvas));
  const metric = gated.length ? gated[0].gate.metric : "gate metric";
  chart(canvas, { type: "line", data: {
    labels: list.versions.map((v) => "v" + v.version + (v.created_at ? " " + v.created_at.slice(0, 10) : "")),
    datasets: [{ label: metric + " (candidate, on the held-out events)", borderColor: "#2f6fdf",
                 data: list.versions.map((v) => (v.gate && v.gate.candidate !== undefined ? v.gate.candidate : null)) },
               { label: metric + " of the model it replaced", borderColor: "#9aa3b5",
                 data: list.versions.map((v) => (v.gate && v.gate.current !== undefined ? v.gate.current : null)) }] } });
  const rows = list.versions.slice().reverse().map((v) => el("tr", { class: v.serving ? "serving" : null, "data-version": v.version },
    el("td", {}, "v" + v.version), el("td", {}, v.model_id || v.error || ""), el("td", {}, v.algorithm || ""),
    el("td", {}, v.created_at ? v.created_at + " (" + age(v.created_at) + ")" : ""),
    el("td", {}, v.data ? v.data.first_event.slice(0, 10) + " to " + v.data.last_event.slice(0, 10) : ""),
    el("td", {}, v.gate ? (v.gate.metric + " " + Number(v.gate.candidate).toFixed(4) + " vs " + Number(v.gate.current).toFixed(4)) : "no gate"),
    el("td", {}, v.serving ? "serving" : v.current ? "current" : ""),
    el("td", {}, v.current || v.error ? "" : el("button", { type: "button", class: "rollback", onclick: () => rollback(v.version) },
                                                 v.version < list.current_version ? "Roll back to v" + v.version : "Switch to v" + v.version))));
  page.append(el("table", { id: "versions" }, el("tr", {}, ["version", "model", "algorithm", "created", "data", "gate", "", ""].map((h) => el("th", {}, h))), rows),
              el("p", { id: "rollback-result", role: "status" }));
}

async function rollback(version) {
  if (!confirm("Serve version " + version + " on this server now? (The publish directory's current points at it.)")) return;
  const out = document.getElementById("rollback-result");
  try {
    const r = await api("/v1/admin/rollback", { method: "POST", body: JSON.stringify({ version: version }) });
    out.className = "ok";
    out.textContent = "Serving " + r.model_version + " (version " + r.version + ").";
    render();
  } catch (e) {
    out.className = "error";
    out.textContent = "Refused: " + e.message;
  }
}

// --- Experiments: the latest report, differences against control with 95% intervals as error bars.
const errorBars = {
  id: "errorBars",
  afterDatasetsDraw(c) {
    const ctx = c.ctx, y = c.scales.y;
    c.data.datasets.forEach((ds, i) => {
      if (!ds.intervals) return;
      c.getDatasetMeta(i).data.forEach((bar, j) => {
        const iv = ds.intervals[j];
        if (!iv) return;
        ctx.save();
        ctx.strokeStyle = "#1d2433";
        ctx.lineWidth = 1.5;
        const lo = y.getPixelForValue(iv[0]), hi = y.getPixelForValue(iv[1]);
        ctx.beginPath();
        ctx.moveTo(bar.x, lo); ctx.lineTo(bar.x, hi);
        ctx.moveTo(bar.x - 6, lo); ctx.lineTo(bar.x + 6, lo);
        ctx.moveTo(bar.x - 6, hi); ctx.lineTo(bar.x + 6, hi);
        ctx.stroke();
        ctx.restore();
      });
    });
  },
};

async function experiments(page) {
  page.append(el("h2", {}, "Experiments"));
  const r = await apiOrAbsent(page, "/v1/admin/experiments");
  if (r === null) return;
  const report = r.report;
  page.append(el("p", { class: "muted" }, "Report " + r.path + " written " + (r.updated_at || "?") + " (" + age(r.updated_at) + "): " +
                  report.exposures + " exposures, " + report.events + " events, window " + Math.round(report.window_seconds / 86400) + " days."));
  (report.experiments || []).forEach((x, n) => {
    const srm = x.sample_ratio || {};
    page.append(el("h3", {}, "Experiment " + x.id + " (control " + x.control + ")"),
                el("p", { class: srm.mismatch ? "srm" : "ok", id: "srm-" + n },
                   srm.mismatch ? "Sample ratio mismatch (p " + Number(srm.p_value).toPrecision(3) + "): the split is not what was configured; do not trust the differences."
                                : "Sample ratio as configured (p " + Number(srm.p_value).toPrecision(3) + ")."));
    const rows = x.variants.map((v) => el("tr", {}, el("td", {}, v.name), el("td", {}, v.customers), el("td", {}, v.exposures),
      ["conversion", "revenue"].map((m) => el("td", {}, Number(v[m].mean).toFixed(4) +
        (v.name === x.control ? "" : " (" + (v[m].diff >= 0 ? "+" : "") + Number(v[m].diff).toFixed(4) + " [" + Number(v[m].ci_low).toFixed(4) + ", " + Number(v[m].ci_high).toFixed(4) + "])")))));
    page.append(el("table", {}, el("tr", {}, ["variant", "customers", "exposures", "conversion (vs control, 95%)", "revenue per customer (vs control, 95%)"].map((h) => el("th", {}, h))), rows));
    const charts = el("div", { class: "charts" });
    page.append(charts);
    for (const m of ["conversion", "revenue"]) {
      const canvas = el("canvas", { id: "chart-" + n + "-" + m });
      charts.append(el("div", { class: "chart" }, canvas));
      const others = x.variants.filter((v) => v.name !== x.control);
      chart(canvas, { type: "bar", plugins: [errorBars], data: { labels: others.map((v) => v.name), datasets: [{
        label: m + ": difference against " + x.control + " (95% interval)", backgroundColor: "#8fb4f5",
        data: others.map((v) => v[m].diff), intervals: others.map((v) => [v[m].ci_low, v[m].ci_high]) }] },
        options: { scales: { y: { suggestedMin: Math.min(0, ...others.map((v) => v[m].ci_low)), suggestedMax: Math.max(0, ...others.map((v) => v[m].ci_high)) } } } });
    }
  });
}

// --- Customer: what the engine holds, answers, erasure.
async function customer(page) {
  page.append(el("h2", {}, "Customer"));
  const input = el("input", { id: "customer-id", "aria-label": "customer id", placeholder: "customer id", required: true });
  const out = el("div", { id: "customer-out" });
  page.append(el("form", { class: "inline", id: "customer-form", onsubmit: (ev) => { ev.preventDefault(); lookup(input.value, out); } },
                 input, el("button", { type: "submit" }, "Look up")), out);
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("id");
  if (wanted) { input.value = wanted; await lookup(wanted, out); }
}

async function lookup(id, out) {
  out.replaceChildren(el("p", { class: "muted" }, "…"));
  const path = encodeURIComponent(id);
  const [data, offers] = await Promise.all([api("/v1/customers/" + path + "/data"),
    api("/v1/customers/" + path + "/offers?count=5").catch((e) => ({ unavailable: e.message }))]);
  const recs = data.recommendations || { recommendations: [] };
  out.replaceChildren(
    el("div", { class: "cards" },
       card("Consent", (data.consent.personalization ? "personalized" : "not personalized") + " (" + data.consent.source + ")", "cu-consent"),
       card("Live events", data.live_events.length, "cu-live"),
       card("Model", data.model.knows_customer ? "knows them: " + (data.model.purchased || []).length + " products" : "does not know them", "cu-model")),
    el("h3", {}, "Recommendations" + (recs.fallback ? " (" + recs.fallback + ")" : "")),
    el("table", { id: "cu-recs" }, el("tr", {}, ["product", "name", "score", "because"].map((h) => el("th", {}, h))),
       recs.recommendations.map((p) => el("tr", {}, el("td", {}, p.product_id), el("td", {}, p.name || ""), el("td", {}, Number(p.score).toFixed(4)),
         el("td", {}, p.bought_before ? "bought " + p.bought_before.times + " times, about every " + Math.round(p.bought_before.every_days) + " days"
                                      : (p.because || []).map((b) => b.product_id).join(", "))))),
    el("h3", {}, "Offers"),
    offers.unavailable ? el("p", { class: "muted" }, offers.unavailable)
      : el("table", { id: "cu-offers" }, el("tr", {}, ["offer", "title", "because"].map((h) => el("th", {}, h))),
           offers.offers.map((o) => el("tr", {}, el("td", {}, o.offer_id), el("td", {}, o.title), el("td", {}, (o.because || []).map((b) => b.name || b.product_id).join(", "))))),
    el("h3", {}, "Live events"),
    el("table", { id: "cu-events" }, el("tr", {}, ["received", "event", "product", "quantity"].map((h) => el("th", {}, h))),
       data.live_events.map((e) => el("tr", {}, el("td", {}, e.received_at), el("td", {}, e.event), el("td", {}, e.product_id), el("td", {}, e.quantity)))),
    el("h3", {}, "Erase"),
    el("p", { class: "muted" }, "Erasure stops every answer from using the customer at once and on every server; the nightly job removes them from files."),
    el("button", { type: "button", class: "danger", id: "erase", onclick: () => erase(id, out) }, "Erase " + id + "…"),
    el("p", { id: "erase-result", role: "status" }));
}

async function erase(id, out) {
  const typed = prompt("Erasing cannot be undone. Type the customer id to confirm:");
  const result = document.getElementById("erase-result");
  if (typed !== id) { result.className = "muted"; result.textContent = "Not erased (the id typed did not match)."; return; }
  try {
    const r = await api("/v1/customers/" + encodeURIComponent(id), { method: "DELETE" });
    await lookup(id, out);
    const after = document.getElementById("erase-result");
    after.className = "ok";
    after.textContent = "Erased at " + r.erased_at + ": " + r.removed.live_events + " live events, " + r.removed.impression_records +
      " impressions" + (r.removed.consent_record ? ", the consent record" : "") + (r.removed.model_row ? ", the model's row" : "") + ". " + r.pending;
  } catch (e) {
    result.className = "error";
    result.textContent = "Not erased: " + e.message;
  }
}

// --- Routing.
const pages = { overview: overview, models: models, experiments: experiments, customer: customer };

async function render() {
  stopPolling();
  const name = (location.hash.slice(1).split("?")[0]) || "overview";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + name);
  const page = document.getElementById("page");
  page.replaceChildren();
  if (!state.key) { showLogin(""); return; }
  document.getElementById("login").hidden = true;
  document.getElementById("forget").hidden = false;
  try {
    await (pages[name] || overview)(page);
  } catch (e) {
    if (!(e instanceof ApiError && (e.status === 401 || e.status === 403))) page.append(el("p", { class: "error" }, e.message));
  }
}

document.getElementById("keyform").onsubmit = async (ev) => {
  ev.preventDefault();
  state.key = document.getElementById("key").value.trim();
  document.getElementById("key").value = "";
  try {
    await api("/v1/admin/models").catch((e) => { if (e.status !== 404) throw e; });
  } catch (e) {
    if (e.status === 401 || e.status === 403) return;  // showLogin said why
  }
  sessionStorage.setItem("aisleKey", state.key);
  render();
};
document.getElementById("forget").onclick = () => showLogin("");
window.addEventListener("hashchange", render);
render();
