// The manager's dashboard: tiles, charts, tables and CSV from the statistics API.
// Plain JavaScript, no build step, nothing from a CDN. The manager's key lives in this tab's
// sessionStorage only. Charts are SVG drawn by the server, which escapes every label in them;
// tables are built with textContent. CSV needs the key too, so it is fetched and handed to the
// browser as a Blob.
"use strict";

(() => {
  const office = window.qcOffice;
  const MANAGERS = new Set(["manager"]);
  const $ = (id) => document.getElementById(id);
  const el = {
    who: $("who"), logout: $("logout"), status: $("status"),
    login: $("login"), key: $("key"),
    dashboard: $("dashboard"), filters: $("filters"),
    from: $("f-from"), to: $("f-to"), station: $("f-station"), kind: $("f-kind"),
    stage: $("f-stage"), group: $("f-group"), stations: $("stations"),
    filterNote: $("filter-note"), tiles: $("tiles"), summaryPeriod: $("summary-period"),
  };
  const store = window.sessionStorage;
  const state = { key: store.getItem("qc.dashboard.key"), name: store.getItem("qc.dashboard.name") };
  let generation = 0; // a newer refresh makes the answers of an older one stale

  const KINDS = office.DEFECT_WORDS;

  // ---- formatting --------------------------------------------------------------------------

  const ints = new Intl.NumberFormat("en-GB");
  const none = (v) => v === null || v === undefined || Number.isNaN(v);
  const fmt = {
    int: (v) => (none(v) ? "–" : ints.format(v)),
    pct: (v) => (none(v) ? "–" : `${(100 * v).toFixed(1)} %`),
    dec: (v) => (none(v) ? "–" : Number(v).toFixed(1)),
    text: (v) => (none(v) ? "–" : String(v)),
    kind: (v) => KINDS[v] || String(v),
  };

  function isoDate(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  }

  function daysBefore(iso, days) {
    const [y, m, d] = iso.split("-").map(Number);
    return isoDate(new Date(y, m - 1, d - days));
  }

  // ---- the API -----------------------------------------------------------------------------

  const request = (path, accept) => office.call("GET", path, { key: state.key, accept });
  const getJson = async (path) => (await request(path, "application/json")).json();

  function query(params) {
    const q = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== "" && value !== null && value !== undefined) q.set(name, value);
    }
    return `?${q}`;
  }

  function filters() {
    return {
      from: el.from.value, to: el.to.value, stage: el.stage.value,
      station: el.station.value.trim(), kind: el.kind.value,
    };
  }

  // Every endpoint takes the period and the filters; a stage only where defects are counted.
  function sources(f) {
    const all = { from: f.from, to: f.to, station: f.station, kind: f.kind };
    const staged = { ...all, stage: f.stage };
    const rate = { ...staged, group_by: el.group.value };
    const sku = { ...staged, dimension: "sku" };
    const kind = { ...staged, dimension: "kind" };
    return {
      summary: `/stats/summary${query(all)}`,
      rate: `/stats/defect-rate${query(rate)}`,
      rateSvg: `/stats/charts/defect-rate.svg${query(rate)}`,
      sku: `/stats/pareto${query(sku)}`,
      skuSvg: `/stats/charts/pareto.svg${query(sku)}`,
      kind: `/stats/pareto${query(kind)}`,
      kindSvg: `/stats/charts/pareto.svg${query(kind)}`,
      stations: `/stats/defect-rate${query({ ...staged, group_by: "station" })}`,
      "packers-rate": `/stats/defect-rate${query({ ...staged, group_by: "packer" })}`,
      confusions: `/stats/confusions${query(all)}`,
      packers: `/stats/packers${query(all)}`,
    };
  }

  // ---- rendering ---------------------------------------------------------------------------

  function say(text, kind = "info") {
    el.status.textContent = text;
    el.status.className = `status ${kind}`;
  }

  function table(box, { columns, rows, caption, empty, rowClass }) {
    if (!rows.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = empty;
      box.replaceChildren(p);
      return;
    }
    const t = document.createElement("table");
    const cap = t.createCaption();
    cap.textContent = caption;
    const head = t.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = c.label;
      if (c.num) th.className = "num";
      head.append(th);
    }
    const body = t.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      if (rowClass) tr.className = rowClass(row);
      for (const c of columns) {
        const td = tr.insertCell();
        td.textContent = (c.fmt || fmt.text)(row[c.key], row);
        if (c.num) td.className = "num";
      }
    }
    box.replaceChildren(t);
  }

  function problem(box, err) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = `Could not load this: ${err.message}`;
    box.replaceChildren(p);
  }

  const TILES = [
    { key: "parcels_closed", label: "Parcels closed", f: fmt.int, better: 0 },
    { key: "first_pass_yield", label: "First-pass yield", f: fmt.pct, better: 1 },
    { key: "caught_share", label: "Defects caught before shipping", f: fmt.pct, better: 1 },
    { key: "escaped_rate", label: "Shipped parcels with a complaint", f: fmt.pct, better: -1 },
    { key: "caught_rate", label: "Parcels with a caught defect", f: fmt.pct, better: 0 },
    { key: "defects_caught", label: "Defects caught", f: fmt.int, better: 0 },
    { key: "defects_escaped", label: "Defects escaped", f: fmt.int, better: -1 },
    { key: "parcels_shipped", label: "Parcels shipped", f: fmt.int, better: 0 },
  ];

  function delta(tile, now, before) {
    if (none(now) || none(before)) return { arrow: "", text: "no comparison", cls: "flat" };
    // Compared as shown: a change too small to show is no change.
    const pct = tile.f === fmt.pct;
    const diff = pct ? Math.round(1000 * now) / 10 - Math.round(1000 * before) / 10 : now - before;
    if (Math.abs(diff) < 1e-9) return { arrow: "=", text: "no change", cls: "flat" };
    const size = pct ? `${Math.abs(diff).toFixed(1)} pts` : ints.format(Math.abs(diff));
    const up = diff > 0;
    const cls = tile.better === 0 ? "flat" : (up === tile.better > 0 ? "good" : "bad");
    return { arrow: up ? "▲" : "▼", text: `${up ? "+" : "−"}${size}`, cls };
  }

  function renderSummary(data) {
    el.summaryPeriod.textContent = `${data.from} to ${data.to}, against ${data.previous_from} to ${data.previous_to}`;
    const tiles = TILES.map((tile) => {
      const now = data.current[tile.key];
      const before = data.previous[tile.key];
      const d = delta(tile, now, before);
      const div = document.createElement("div");
      div.className = `tile ${d.cls}`;
      div.dataset.metric = tile.key;
      const label = document.createElement("p");
      label.className = "label";
      label.textContent = tile.label;
      const value = document.createElement("p");
      value.className = "value";
      value.textContent = tile.f(now);
      const change = document.createElement("p");
      change.className = "change";
      const arrow = document.createElement("span");
      arrow.className = "arrow";
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = d.arrow;
      const words = document.createElement("span");
      words.textContent = ` ${d.text} · before: ${tile.f(before)}`;
      change.append(arrow, words);
      div.append(label, value, change);
      return div;
    });
    el.tiles.replaceChildren(...tiles);
  }

  const RATE_COLUMNS = [
    { key: "key", label: "Period" },
    { key: "parcels", label: "Parcels", fmt: fmt.int, num: true },
    { key: "defective_parcels", label: "With a defect", fmt: fmt.int, num: true },
    { key: "defects", label: "Defects", fmt: fmt.int, num: true },
    { key: "rate", label: "Rate", fmt: fmt.pct, num: true },
    { key: "lower", label: "Lower limit", fmt: fmt.pct, num: true },
    { key: "center", label: "Centre", fmt: fmt.pct, num: true },
    { key: "upper", label: "Upper limit", fmt: fmt.pct, num: true },
    { key: "out_of_control", label: "Out of control", fmt: (v) => (v ? "yes" : "") },
  ];

  const oocClass = (row) => (row.out_of_control ? "ooc" : "");

  function direction(row) {
    return row.rate > row.upper ? "above the upper limit" : "below the lower limit";
  }

  function oocTable(box, rows, what) {
    const out = rows.filter((r) => r.out_of_control);
    table(box, {
      caption: `${what}: ${out.length} of ${rows.length} out of control`,
      empty: rows.length
        ? `All ${rows.length} ${what.toLowerCase()} are within their control limits.`
        : `No ${what.toLowerCase()} closed parcels in this period.`,
      rows: out.sort((a, b) => b.rate - a.rate),
      rowClass: (r) => (r.rate > r.upper ? "ooc worse" : "ooc better"),
      columns: [
        { key: "key", label: what.replace(/s$/, "") },
        { key: "parcels", label: "Parcels", fmt: fmt.int, num: true },
        { key: "rate", label: "Rate", fmt: fmt.pct, num: true },
        { key: "center", label: "Centre", fmt: fmt.pct, num: true },
        { key: "upper", label: "Limits", fmt: (_, r) => `${fmt.pct(r.lower)} – ${fmt.pct(r.upper)}`, num: true },
        { key: "out_of_control", label: "Where", fmt: (_, r) => direction(r) },
      ],
    });
  }

  function paretoTable(box, rows, what, label) {
    table(box, {
      caption: `Defects by ${what}`,
      empty: "No defects in this period.",
      rows,
      columns: [
        { key: "key", label, fmt: what === "kind" ? fmt.kind : fmt.text },
        { key: "defects", label: "Defects", fmt: fmt.int, num: true },
        { key: "share", label: "Share", fmt: fmt.pct, num: true },
        { key: "cumulative_share", label: "Cumulative", fmt: fmt.pct, num: true },
      ],
    });
  }

  const RENDER = {
    summary: renderSummary,
    rate: (data) => table(box("table", "rate"), {
      caption: `Defect rate per ${data.group_by || el.group.value}`,
      empty: "No parcels closed in this period.",
      rows: data.rows,
      columns: RATE_COLUMNS,
      rowClass: oocClass,
    }),
    sku: (data) => paretoTable(box("table", "sku"), data.rows, "SKU", "SKU"),
    kind: (data) => paretoTable(box("table", "kind"), data.rows, "kind", "Kind"),
    stations: (data) => {
      oocTable(box("table", "ooc-stations"), data.rows, "Stations");
      el.stations.replaceChildren(...data.rows.map((r) => new Option(r.key)));
    },
    "packers-rate": (data) => oocTable(box("table", "ooc-packers"), data.rows, "Packers"),
    confusions: (data) => table(box("table", "confusions"), {
      caption: "Scanned instead of the expected item",
      empty: "No wrong items scanned in this period.",
      rows: data.rows,
      columns: [
        { key: "expected_sku", label: "Expected" },
        { key: "scanned_sku", label: "Scanned instead" },
        { key: "count", label: "Times", fmt: fmt.int, num: true },
      ],
    }),
    packers: (data) => table(box("table", "packers"), {
      caption: "Packers in this period",
      empty: "No packer closed a parcel in this period.",
      rows: data.rows,
      columns: [
        { key: "packer", label: "Packer" },
        { key: "parcels", label: "Parcels", fmt: fmt.int, num: true },
        { key: "units", label: "Units", fmt: fmt.int, num: true },
        { key: "hours", label: "Hours", fmt: fmt.dec, num: true },
        { key: "parcels_per_hour", label: "Parcels / hour", fmt: fmt.dec, num: true },
        { key: "units_per_hour", label: "Units / hour", fmt: fmt.dec, num: true },
        { key: "first_pass_yield", label: "First-pass yield", fmt: fmt.pct, num: true },
        { key: "defect_rate", label: "Defect rate", fmt: fmt.pct, num: true },
      ],
    }),
  };

  const CHARTS = { rate: "rateSvg", sku: "skuSvg", kind: "kindSvg" };

  function box(what, name) {
    return document.querySelector(`[data-${what}="${name}"]`);
  }

  async function loadChart(name, path, gen) {
    const target = box("chart", name);
    target.setAttribute("aria-busy", "true");
    try {
      const response = await request(path, "image/svg+xml");
      const svg = await response.text();
      if (gen !== generation) return;
      if (!svg.trimStart().startsWith("<svg")) throw new Error("the chart is not an SVG");
      // The server's own SVG: every label in it is escaped (api/charts.py).
      target.innerHTML = svg;
    } catch (err) {
      if (gen === generation) handle(err, target);
    } finally {
      target.removeAttribute("aria-busy");
    }
  }

  async function loadData(name, path, gen) {
    try {
      const data = await getJson(path);
      if (gen === generation) RENDER[name](data);
    } catch (err) {
      if (gen !== generation) return;
      const target = name === "summary" ? el.tiles : box("table", name === "stations" ? "ooc-stations" : name === "packers-rate" ? "ooc-packers" : name);
      handle(err, target);
    }
  }

  function handle(err, target) {
    if (err.status === 401) {
      logout();
      say("The key was refused (revoked?): log in again.", "bad");
      return;
    }
    problem(target, err);
    throw err;
  }

  // The quick pick that matches the period shows pressed.
  function markQuick(f) {
    const today = isoDate(new Date());
    for (const button of document.querySelectorAll("[data-days]")) {
      const days = Number(button.dataset.days);
      const on = f.to === today && f.from === daysBefore(today, days - 1);
      button.setAttribute("aria-pressed", String(on));
    }
  }

  // What a kind does not narrow (qc/stats.py): parcels closed, shipped and first-pass are
  // properties of parcels; confusion pairs are wrong items whatever the filter.
  function note(f) {
    el.filterNote.textContent = f.kind
      ? "The defect kind narrows every defect count and rate; parcels closed, shipped, first-pass yield and the confusion pairs are not about a kind."
      : "";
  }

  async function refresh() {
    if (!el.filters.reportValidity()) return;
    const f = filters();
    if (f.from > f.to) {
      say("The period's start is after its end.", "bad");
      return;
    }
    generation += 1;
    const gen = generation;
    note(f);
    markQuick(f);
    remember(f);
    el.dashboard.dataset.state = "loading";
    say("Loading…");
    const src = sources(f);
    const jobs = [
      ...Object.keys(RENDER).map((name) => loadData(name, src[name], gen)),
      ...Object.entries(CHARTS).map(([name, svg]) => loadChart(name, src[svg], gen)),
    ];
    const results = await Promise.allSettled(jobs);
    if (gen !== generation || !state.key) return;
    const failed = results.filter((r) => r.status === "rejected");
    el.dashboard.dataset.state = failed.length ? "error" : "ready";
    if (failed.length) {
      say(`Not everything could be loaded: ${failed[0].reason.message}`, "bad");
    } else {
      const where = f.station ? ` at ${f.station}` : "";
      say(`Showing ${f.from} to ${f.to}${where}.`, "ok");
    }
  }

  // The filters live in the address (not the key): a view can be bookmarked or shared.
  function remember(f) {
    const q = query({ ...f, group_by: el.group.value === "day" ? "" : el.group.value });
    window.history.replaceState(null, "", `${window.location.pathname}${q}`);
  }

  function recall() {
    const q = new URLSearchParams(window.location.search);
    const today = isoDate(new Date());
    const valid = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || "");
    el.to.value = valid(q.get("to")) ? q.get("to") : today;
    el.from.value = valid(q.get("from")) ? q.get("from") : daysBefore(el.to.value, 27);
    el.station.value = q.get("station") || "";
    if (q.get("kind") in KINDS) el.kind.value = q.get("kind");
    if (["caught", "escaped", "all"].includes(q.get("stage"))) el.stage.value = q.get("stage");
    if (q.get("group_by") === "week") el.group.value = "week";
  }

  // ---- CSV -----------------------------------------------------------------------------------

  async function downloadCsv(event) {
    event.preventDefault();
    const name = event.currentTarget.dataset.csv;
    const f = filters();
    const path = sources(f)[name];
    try {
      const response = await request(`${path}&format=csv`, "text/csv");
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `${name}-${f.from}-to-${f.to}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      say(`Downloaded ${a.download}.`, "ok");
    } catch (err) {
      if (err.status === 401) {
        logout();
        say("The key was refused (revoked?): log in again.", "bad");
      } else {
        say(`The CSV could not be downloaded: ${err.message}`, "bad");
      }
    }
  }

  // ---- log in and out ----------------------------------------------------------------------

  async function login(event) {
    event.preventDefault();
    const user = await office.logIn(el.key, MANAGERS, "the dashboard needs a manager's key", say);
    if (!user) return;
    const { key, me } = user;
    state.key = key;
    state.name = me.name;
    store.setItem("qc.dashboard.key", key);
    store.setItem("qc.dashboard.name", me.name);
    enter();
  }

  function enter() {
    el.login.hidden = true;
    el.dashboard.hidden = false;
    el.logout.hidden = false;
    el.who.textContent = `Manager: ${state.name}`;
    refresh().catch(() => {});
  }

  function logout() {
    generation += 1;
    state.key = null;
    state.name = null;
    store.removeItem("qc.dashboard.key");
    store.removeItem("qc.dashboard.name");
    el.dashboard.hidden = true;
    el.dashboard.dataset.state = "idle";
    el.login.hidden = false;
    el.logout.hidden = true;
    el.who.textContent = "";
    for (const b of document.querySelectorAll("[data-chart], [data-table]")) b.replaceChildren();
    el.tiles.replaceChildren();
    say("");
    el.key.focus();
  }

  // ---- wiring --------------------------------------------------------------------------------

  for (const [value, words] of Object.entries(KINDS)) el.kind.append(new Option(words, value));
  recall();
  el.login.addEventListener("submit", login);
  el.logout.addEventListener("click", () => {
    logout();
    say("Logged out.");
  });
  el.filters.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh().catch(() => {});
  });
  for (const input of [el.from, el.to, el.kind, el.stage, el.group, el.station]) {
    input.addEventListener("change", () => refresh().catch(() => {}));
  }
  for (const button of document.querySelectorAll("[data-days]")) {
    button.addEventListener("click", () => {
      el.to.value = isoDate(new Date());
      el.from.value = daysBefore(el.to.value, Number(button.dataset.days) - 1);
      refresh().catch(() => {});
    });
  }
  for (const link of document.querySelectorAll("a[data-csv]")) {
    link.addEventListener("click", downloadCsv);
  }
  if (state.key) {
    enter();
  } else {
    el.key.focus();
  }
})();
