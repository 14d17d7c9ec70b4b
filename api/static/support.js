// The support desk: find a parcel, see its photo with the codes seen outlined, its timeline,
// lines and defects; record and resolve complaints; download or share the evidence.
// Plain JavaScript, no build step, nothing from a CDN. The key lives in this tab's
// sessionStorage only. Everything shown is built with textContent (never innerHTML), so a
// customer reference or a note cannot inject markup.
"use strict";

(() => {
  const office = window.qcOffice;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ROLES = new Set(["support", "manager"]);
  const $ = (id) => document.getElementById(id);
  const el = {
    bar: $("bar"), who: $("who"), logout: $("logout"), status: $("status"), hint: $("q-hint"),
    login: $("login"), key: $("key"), desk: $("desk"),
    search: $("search"), q: $("q"),
    results: $("results"), resultsBody: $("results-body"),
    parcel: $("parcel"), title: $("h-parcel"), pStatus: $("p-status"), pHold: $("p-hold"),
    facts: $("p-facts"),
    evDownload: $("ev-download"), evShare: $("ev-share"), evHours: $("ev-hours"),
    evLink: $("ev-link"), evNote: $("ev-note"),
    viewer: $("viewer"), stage: $("stage"), img: $("photo-img"), outlines: $("outlines"),
    viewerEmpty: $("viewer-empty"), legend: $("legend"), thumbs: $("thumbs"),
    zoomIn: $("zoom-in"), zoomOut: $("zoom-out"), zoomFit: $("zoom-fit"),
    zoomLevel: $("zoom-level"), showCodes: $("show-codes"),
    complaints: $("complaints"), form: $("complaint-form"), cKind: $("c-kind"),
    cSku: $("c-sku"), cSkus: $("c-skus"), cQty: $("c-qty"), cNote: $("c-note"),
    cSubmit: $("c-submit"), cError: $("c-error"),
    lines: $("lines"), defects: $("defects"), overrides: $("overrides"),
    timeline: $("timeline"),
  };
  const store = window.sessionStorage;
  const state = {
    key: store.getItem("qc.support.key"),
    name: store.getItem("qc.support.name"),
    role: store.getItem("qc.support.role"),
    query: "",
    parcel: null, // the parcel's detail, as GET /parcels/{id} gives it
    photo: null, // the photo in the viewer
    created: null, // the id of the complaint recorded last on this parcel: highlighted
  };
  let searchGen = 0; // a newer search or parcel makes the answers of an older one stale
  let parcelGen = 0;

  // ---- words and formats ---------------------------------------------------------------

  const DEFECTS = office.DEFECT_WORDS;
  const KINDS = {
    missing: "item missing", wrong: "wrong item", damaged: "item damaged",
    extra: "extra item", other: "other",
  };
  const RESOLUTIONS = { reship: "reship", refund: "refund", no_action: "no action" };
  const EVENTS = {
    opened: "opened", scan: "scan", defect: "defect", override: "released", closed: "closed",
    voided: "voided", shipped: "shipped", photo: "photo", weighed: "weighed",
    complaint: "complaint", complaint_resolved: "complaint resolved",
  };
  const MATCHED = {
    parcel_id: "parcel id", order: "order number", tracking_number: "tracking number",
    customer_ref: "customer reference", sscc: "SSCC",
  };

  const none = (v) => v === null || v === undefined || v === "";
  const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  const clock = new Intl.DateTimeFormat("en-GB", {
    day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const brief = new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
  });
  const fmt = {
    text: (v) => (none(v) ? "–" : String(v)),
    when: (v) => (none(v) ? "–" : dateTime.format(new Date(v))),
    // Without the year when it is this year's: the facts of a parcel fit one line.
    short: (v) => {
      if (none(v)) return "–";
      const d = new Date(v);
      return d.getFullYear() === new Date().getFullYear() ? brief.format(d) : dateTime.format(d);
    },
    defect: (v) => DEFECTS[v] || String(v).replace(/_/g, " "),
    grams: (v) => (none(v) ? "–" : `${new Intl.NumberFormat("en-GB").format(v)} g`),
  };

  function make(tag, { cls, text, attrs } = {}) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    return node;
  }

  function svg(tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    return node;
  }

  // crypto.randomUUID exists only in secure contexts; a desk served without TLS needs keys too.
  function uuid() {
    if (window.crypto.randomUUID) return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- the API -------------------------------------------------------------------------

  const call = (method, path, options = {}) => office.call(method, path, { key: state.key, ...options });
  const getJson = async (path) => (await call("GET", path)).json();

  function say(text, kind = "info") {
    el.status.textContent = text;
    el.status.className = `status ${kind}`;
  }

  // A refused key ends the session, whatever was being done.
  function refused(err) {
    if (err && err.status === 401) {
      logout();
      say("The key was refused (revoked?): log in again.", "bad");
      return true;
    }
    return false;
  }

  // ---- search ----------------------------------------------------------------------------

  async function search(q, { open = true } = {}) {
    if (!q.trim()) {
      say("Type an order number, tracking number, customer reference, parcel id or SSCC.", "bad");
      el.q.focus();
      return;
    }
    searchGen += 1;
    const gen = searchGen;
    state.query = q;
    remember();
    el.hint.hidden = true;
    window.scrollTo(0, 0);
    el.results.hidden = false;
    el.results.dataset.state = "loading";
    say("Searching…");
    let data;
    try {
      data = await getJson(`/lookup?${new URLSearchParams({ q })}`);
    } catch (err) {
      if (gen !== searchGen || refused(err)) return;
      el.results.dataset.state = "error";
      el.resultsBody.replaceChildren(make("p", { cls: "error", text: err.message }));
      say(`The search failed: ${err.message}`, "bad");
      return;
    }
    if (gen !== searchGen) return;
    renderResults(data);
    el.results.dataset.state = "ready";
    const parcels = data.results.filter((r) => r.parcel_id !== null);
    if (!data.results.length) {
      say(`Nothing found for “${q.trim()}”.`, "bad");
    } else {
      const n = data.results.length;
      say(`${n} result${n === 1 ? "" : "s"} for “${q.trim()}”.`, "ok");
    }
    // One parcel: open it at once, the support agent's next step anyway.
    if (open && parcels.length === 1 && data.results.length === 1) {
      openParcel(parcels[0].parcel_id, { focus: false });
    }
  }

  const RESULT_COLUMNS = [
    { key: "order", label: "Order" },
    { key: "customer_ref", label: "Customer ref" },
    { key: "status", label: "Status", cls: (r) => `st ${r.status || "none"}` },
    { key: "station", label: "Station" },
    { key: "packer", label: "Packer" },
    { key: "closed_at", label: "Closed", f: fmt.short },
    { key: "shipped_at", label: "Shipped", f: fmt.short },
    { key: "tracking_number", label: "Tracking" },
    { key: "matched", label: "Found by", f: (v) => MATCHED[v] || fmt.text(v) },
  ];

  function renderResults(data) {
    if (!data.results.length) {
      el.resultsBody.replaceChildren(make("p", {
        cls: "empty",
        text: `Nothing matches “${data.q}”. Check the number with the customer: an order ` +
          "number, a tracking number, a customer reference, a parcel id or an SSCC.",
      }));
      return;
    }
    const table = make("table", { cls: "result-table" });
    const n = data.results.length;
    table.createCaption().textContent = `${n} result${n === 1 ? "" : "s"} for “${data.q}”, newest first`;
    const head = table.createTHead().insertRow();
    for (const label of ["Parcel", ...RESULT_COLUMNS.map((c) => c.label)]) {
      head.append(make("th", { text: label, attrs: { scope: "col" } }));
    }
    const body = table.createTBody();
    for (const r of data.results) {
      const tr = body.insertRow();
      tr.dataset.parcel = r.parcel_id === null ? "" : String(r.parcel_id);
      const first = tr.insertCell();
      if (r.parcel_id === null) {
        first.append(make("span", { cls: "muted", text: "no parcel yet" }));
      } else {
        const button = make("button", {
          cls: "open", text: `Parcel ${r.parcel_id}`,
          attrs: { type: "button", "aria-label": `Open parcel ${r.parcel_id} of order ${r.order}` },
        });
        button.addEventListener("click", () => openParcel(r.parcel_id, { focus: true }));
        first.append(button);
        tr.addEventListener("click", (event) => {
          if (event.target === tr || event.target.tagName === "TD") button.click();
        });
      }
      for (const c of RESULT_COLUMNS) {
        const td = tr.insertCell();
        td.textContent = (c.f || fmt.text)(r[c.key]);
        if (c.cls) td.className = c.cls(r);
      }
    }
    el.resultsBody.replaceChildren(table);
    markOpen();
  }

  function markOpen() {
    const id = state.parcel ? String(state.parcel.id) : "";
    for (const tr of el.resultsBody.querySelectorAll("tbody tr")) {
      if (tr.dataset.parcel && tr.dataset.parcel === id) tr.setAttribute("aria-current", "true");
      else tr.removeAttribute("aria-current");
    }
  }

  // ↓ from the search box into the results, ↑/↓ between them, ↑ from the first back.
  function resultKeys(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...el.resultsBody.querySelectorAll("button.open")];
    if (!buttons.length) return;
    const at = buttons.indexOf(document.activeElement);
    if (event.target === el.q) {
      if (event.key !== "ArrowDown") return;
      buttons[0].focus();
    } else if (at >= 0) {
      const next = at + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) el.q.focus();
      else buttons[Math.min(next, buttons.length - 1)].focus();
    } else {
      return;
    }
    event.preventDefault();
  }

  // The query and the parcel live in the address (never the key): a reload shows the same.
  function remember() {
    const q = new URLSearchParams();
    if (state.query) q.set("q", state.query);
    if (state.parcel) q.set("parcel", String(state.parcel.id));
    const tail = q.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${tail ? `?${tail}` : ""}`);
  }

  // ---- the parcel --------------------------------------------------------------------------

  async function openParcel(id, { focus = false, keepCreated = false } = {}) {
    parcelGen += 1;
    const gen = parcelGen;
    el.parcel.hidden = false;
    el.parcel.dataset.state = "loading";
    let detail;
    try {
      detail = await getJson(`/parcels/${encodeURIComponent(id)}`);
    } catch (err) {
      if (gen !== parcelGen || refused(err)) return;
      el.parcel.dataset.state = "error";
      say(`Parcel ${id} could not be opened: ${err.message}`, "bad");
      return;
    }
    if (gen !== parcelGen) return;
    const same = state.parcel && state.parcel.id === detail.id;
    state.parcel = detail;
    if (!keepCreated) state.created = null;
    if (!same) resetForm();
    renderParcel(detail, { keepPhoto: same });
    el.parcel.dataset.state = "ready";
    remember();
    markOpen();
    if (!same || focus) reveal();
    if (focus) el.title.focus({ preventScroll: true });
  }

  // The parcel's top just under the sticky search bar: the photo then fills the screen.
  function reveal() {
    const top = el.parcel.getBoundingClientRect().top + window.scrollY - el.bar.offsetHeight - 8;
    window.scrollTo(0, Math.max(top, 0));
  }

  function renderParcel(p, { keepPhoto }) {
    el.title.textContent = `Parcel ${p.id} · order ${p.order}`;
    el.pStatus.textContent = p.status;
    el.pStatus.className = `pill st ${p.status}`;
    const hold = p.evidence_hold;
    el.pHold.hidden = !(hold && hold.held);
    if (hold && hold.held) {
      el.pHold.textContent = `evidence held by ${hold.by}`;
      el.pHold.title = hold.reason || "";
    }
    renderFacts(p);
    renderPhotos(p, keepPhoto);
    renderComplaints(p);
    renderLines(p);
    renderDefects(p);
    renderTimeline(p);
    el.cSkus.replaceChildren(...p.lines.map((line) => new Option(line.name, line.sku)));
    const closed = p.status !== "packing";
    el.cSubmit.disabled = !closed;
    el.cError.textContent = closed ? "" : "This parcel is still being packed: a complaint waits until it is closed.";
    el.evLink.hidden = true;
    el.evNote.textContent = "";
  }

  function renderFacts(p) {
    const ship = p.shipment || null;
    const weight = none(p.weight_g)
      ? "not weighed"
      : `${fmt.grams(p.weight_g)} of ${fmt.grams(p.expected_weight_g)}`;
    const facts = [
      ["Customer ref", fmt.text(p.customer_ref)],
      ["Station", p.station],
      ["Packer", p.packer],
      ["Opened", fmt.short(p.opened_at)],
      ["Closed", fmt.short(p.closed_at)],
      ["Shipped", fmt.short(ship ? ship.shipped_at : p.shipped_at)],
      ["Tracking", fmt.text(ship ? ship.tracking_number : p.tracking_number)],
      ["SSCC", fmt.text(ship ? ship.sscc : null)],
      ["Weight", weight],
    ];
    const nodes = [];
    for (const [term, value] of facts) {
      const div = make("div");
      div.append(make("dt", { text: term }), make("dd", { text: value }));
      nodes.push(div);
    }
    el.facts.replaceChildren(...nodes);
  }

  // ---- the photo viewer -------------------------------------------------------------------

  const view = { zoom: 1, fit: 1, x: 0, y: 0, w: 0, h: 0 };
  const MAX_ZOOM = 8;
  const LABEL_PX = 15;
  const STEP = 1.25;

  function renderPhotos(p, keepPhoto) {
    const photos = p.photos || [];
    // The same parcel again (after a complaint): the same photos stay as they are, zoom and
    // all, rather than be fetched again under fresh links (each fetch is an audited view).
    const ids = photos.map((ph) => `${ph.id}:${ph.purged}`).join(",");
    if (keepPhoto && el.viewer.dataset.photos === ids) return;
    el.viewer.dataset.photos = ids;
    const kept = keepPhoto && state.photo && photos.find((ph) => ph.id === state.photo.id);
    // The newest photo is the one that counted at closing: it opens first.
    showPhoto(kept || photos[photos.length - 1] || null);
    el.thumbs.hidden = photos.length < 2;
    el.thumbs.replaceChildren(...(photos.length < 2 ? [] : photos.map(thumb)));
    markThumb();
  }

  function thumb(photo, index) {
    const button = make("button", {
      cls: "thumb",
      attrs: { type: "button", "data-photo": String(photo.id) },
    });
    const when = fmt.when(photo.created_at);
    if (photo.purged || !photo.thumb_url) {
      const why = photo.purged ? "deleted by retention" : "no image";
      button.classList.add("purged");
      button.append(make("span", { text: why }));
      button.setAttribute("aria-label", `Photo ${index + 1}, ${when}: ${why}`);
    } else {
      const img = make("img", { attrs: { alt: "", src: photo.thumb_url } });
      button.append(img);
      button.setAttribute("aria-label", `Photo ${index + 1}, ${when}`);
    }
    button.append(make("span", { cls: "when", text: when }));
    button.addEventListener("click", () => {
      showPhoto(photo);
      markThumb();
    });
    return button;
  }

  function markThumb() {
    for (const b of el.thumbs.querySelectorAll("button.thumb")) {
      b.setAttribute("aria-pressed", String(state.photo && b.dataset.photo === String(state.photo.id)));
    }
  }

  function category(code) {
    if (code.order_slip) return "slip";
    if (code.sku && code.expected === true) return "expected";
    if (code.sku && code.expected === false) return "foreign";
    return "unknown";
  }

  function codeLabel(code) {
    if (code.order_slip) return `slip ${code.text}`;
    if (code.sku) return code.sku;
    return code.text.length > 16 ? `${code.text.slice(0, 15)}…` : code.text;
  }

  const MEANING = {
    expected: "in the order", foreign: "not in this order", slip: "the packing slip",
    unknown: "not in the catalogue",
  };

  function showPhoto(photo) {
    state.photo = photo;
    el.viewer.classList.toggle("purged", Boolean(photo && photo.purged));
    el.outlines.replaceChildren();
    el.legend.replaceChildren();
    el.img.removeAttribute("src");
    el.stage.hidden = true;
    el.viewer.dataset.photo = photo ? String(photo.id) : "";
    if (!photo) {
      empty("No photo was taken of this parcel.");
      return;
    }
    renderLegend(photo);
    if (photo.purged) {
      empty(`Photo ${photo.id} was deleted by retention: only what was read in it remains.`);
      return;
    }
    if (!photo.url) {
      empty("This key may not see photos.");
      return;
    }
    el.viewerEmpty.hidden = true;
    view.w = photo.width;
    view.h = photo.height;
    el.stage.style.width = `${photo.width}px`;
    el.stage.style.height = `${photo.height}px`;
    el.outlines.setAttribute("viewBox", `0 0 ${photo.width} ${photo.height}`);
    el.outlines.setAttribute("width", String(photo.width));
    el.outlines.setAttribute("height", String(photo.height));
    drawOutlines(photo);
    el.img.alt = `Packing photo ${photo.id} of parcel ${photo.parcel_id}, ${fmt.when(photo.created_at)}`;
    el.img.src = photo.url;
    el.stage.hidden = false;
    fit();
  }

  function empty(text) {
    el.viewerEmpty.textContent = text;
    el.viewerEmpty.hidden = false;
    el.stage.hidden = true;
    view.w = 0;
    el.viewer.dataset.zoom = "1";
    el.zoomLevel.textContent = "–";
  }

  function drawOutlines(photo) {
    const nearTop = Math.max(photo.width, photo.height) / 25;
    for (const code of photo.codes) {
      if (!code.corners || code.corners.length < 3) continue;
      const kind = category(code);
      const g = svg("g", { class: `code ${kind}${code.confirmed ? "" : " weak"}`,
        "data-sku": code.sku || "", "data-kind": kind });
      const points = code.corners.map(([x, y]) => `${x},${y}`).join(" ");
      g.append(svg("polygon", { points, "vector-effect": "non-scaling-stroke" }));
      const xs = code.corners.map((c) => c[0]);
      const ys = code.corners.map((c) => c[1]);
      const top = Math.min(...ys);
      // The label above the code, or under it when the code is at the photo's top edge.
      const [y, dy] = top > nearTop ? [top, "-0.35em"] : [Math.max(...ys), "1.05em"];
      const text = svg("text", { x: Math.min(...xs), y, dy });
      text.textContent = codeLabel(code);
      g.append(text);
      const title = svg("title");
      title.textContent = `${codeLabel(code)}: ${MEANING[kind]}`;
      g.append(title);
      el.outlines.append(g);
    }
  }

  function renderLegend(photo) {
    const items = photo.codes.map((code) => {
      const kind = category(code);
      const li = make("li", { cls: `code ${kind}` });
      li.dataset.kind = kind;
      li.append(make("span", { cls: "swatch", attrs: { "aria-hidden": "true" } }));
      const words = [codeLabel(code), MEANING[kind]];
      if (!code.confirmed) words.push("weak read, not judged");
      if (!code.corners) words.push("no outline kept");
      li.append(make("span", { text: words.join(" · ") }));
      return li;
    });
    if (!items.length) items.push(make("li", { cls: "muted", text: "No code was read in this photo." }));
    el.legend.replaceChildren(...items);
    for (const w of photo.warnings || []) el.legend.append(make("li", { cls: "warning", text: w }));
  }

  function box() {
    return { vw: el.viewer.clientWidth, vh: el.viewer.clientHeight };
  }

  function fit() {
    if (!view.w) return;
    const { vw, vh } = box();
    view.fit = Math.min(vw / view.w, vh / view.h) || 1;
    view.zoom = 1;
    view.x = (vw - view.w * view.fit) / 2;
    view.y = (vh - view.h * view.fit) / 2;
    apply();
  }

  // Keep the photo over the viewer: centred when smaller, never pulled off an edge.
  function clamp() {
    const { vw, vh } = box();
    const s = view.fit * view.zoom;
    const w = view.w * s;
    const h = view.h * s;
    view.x = w <= vw ? (vw - w) / 2 : Math.min(0, Math.max(vw - w, view.x));
    view.y = h <= vh ? (vh - h) / 2 : Math.min(0, Math.max(vh - h, view.y));
  }

  function apply() {
    clamp();
    const s = view.fit * view.zoom;
    el.stage.style.transform = `translate(${view.x}px, ${view.y}px) scale(${s})`;
    // Labels keep one size on screen whatever the zoom: readable at fit, not huge zoomed in.
    el.outlines.style.fontSize = `${LABEL_PX / s}px`;
    el.viewer.dataset.zoom = view.zoom.toFixed(3);
    el.zoomLevel.textContent = `${Math.round(s * 100)} %`;
    el.zoomOut.disabled = view.zoom <= 1;
    el.zoomIn.disabled = view.zoom >= MAX_ZOOM;
  }

  // Zoom by `factor` keeping the photo's point under (px, py) of the viewer where it is.
  function zoomBy(factor, px, py) {
    if (!view.w) return;
    const { vw, vh } = box();
    const cx = px === undefined ? vw / 2 : px;
    const cy = py === undefined ? vh / 2 : py;
    const before = view.fit * view.zoom;
    view.zoom = Math.min(MAX_ZOOM, Math.max(1, view.zoom * factor));
    const after = view.fit * view.zoom;
    view.x = cx - ((cx - view.x) * after) / before;
    view.y = cy - ((cy - view.y) * after) / before;
    apply();
  }

  function pan(dx, dy) {
    if (!view.w) return;
    view.x += dx;
    view.y += dy;
    apply();
  }

  // + − 0 anywhere in the photo's card (on the zoom buttons too); the arrows on the photo.
  function viewerKeys(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const { vw, vh } = box();
    const moves = {
      ArrowLeft: [vw / 8, 0], ArrowRight: [-vw / 8, 0], ArrowUp: [0, vh / 8], ArrowDown: [0, -vh / 8],
    };
    if (event.key === "+" || event.key === "=") zoomBy(STEP);
    else if (event.key === "-" || event.key === "_" || event.key === "−") zoomBy(1 / STEP);
    else if (event.key === "0") fit();
    else if (moves[event.key] && event.target === el.viewer) pan(...moves[event.key]);
    else return;
    event.preventDefault();
  }

  function wheel(event) {
    if (!view.w) return;
    event.preventDefault();
    const r = el.viewer.getBoundingClientRect();
    zoomBy(event.deltaY < 0 ? STEP : 1 / STEP, event.clientX - r.left, event.clientY - r.top);
  }

  let drag = null;
  function dragStart(event) {
    if (!view.w || event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY };
    el.viewer.setPointerCapture(event.pointerId);
    el.viewer.classList.add("dragging");
  }
  function dragMove(event) {
    if (!drag) return;
    pan(event.clientX - drag.x, event.clientY - drag.y);
    drag = { x: event.clientX, y: event.clientY };
  }
  function dragEnd(event) {
    if (!drag) return;
    drag = null;
    if (el.viewer.hasPointerCapture(event.pointerId)) el.viewer.releasePointerCapture(event.pointerId);
    el.viewer.classList.remove("dragging");
  }

  // A resized viewer keeps the zoom and the photo's centre.
  function resized() {
    if (!view.w) return;
    const { vw, vh } = box();
    const s = view.fit * view.zoom;
    const cx = (vw / 2 - view.x) / s;
    const cy = (vh / 2 - view.y) / s;
    view.fit = Math.min(vw / view.w, vh / view.h) || 1;
    const t = view.fit * view.zoom;
    view.x = vw / 2 - cx * t;
    view.y = vh / 2 - cy * t;
    apply();
  }

  // ---- lines, defects, timeline ---------------------------------------------------------

  function table(box_, { caption, columns, rows, empty: emptyText, rowAttrs }) {
    if (!rows.length) {
      box_.replaceChildren(make("p", { cls: "empty", text: emptyText }));
      return;
    }
    const t = make("table");
    t.createCaption().textContent = caption;
    const head = t.createTHead().insertRow();
    for (const c of columns) {
      head.append(make("th", { text: c.label, cls: c.num ? "num" : "", attrs: { scope: "col" } }));
    }
    const body = t.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      for (const [name, value] of Object.entries(rowAttrs ? rowAttrs(row) : {})) tr.setAttribute(name, value);
      for (const c of columns) {
        const td = tr.insertCell();
        td.textContent = (c.f || fmt.text)(row[c.key], row);
        if (c.num) td.className = "num";
      }
    }
    box_.replaceChildren(t);
  }

  function lineStatus(status, line) {
    const notes = [status];
    if (line.damaged) notes.push(`${line.damaged} damaged`);
    if (line.short) notes.push(`${line.short} short-shipped`);
    return notes.join(", ");
  }

  function renderLines(p) {
    table(el.lines, {
      caption: `${p.lines.length} line${p.lines.length === 1 ? "" : "s"} of order ${p.order}`,
      empty: "The order has no lines.",
      rows: p.lines,
      rowAttrs: (l) => ({ "data-sku": l.sku, class: l.status }),
      columns: [
        { key: "sku", label: "SKU" },
        { key: "name", label: "Name" },
        { key: "scanned", label: "Packed", num: true, f: (v, l) => `${v} of ${l.expected}` },
        { key: "status", label: "Status", f: lineStatus },
      ],
    });
  }

  function renderDefects(p) {
    table(el.defects, {
      caption: "Defects found at the bench (caught) and reported after shipping (escaped)",
      empty: "No defect recorded.",
      rows: p.defects,
      rowAttrs: (d) => ({ class: d.stage, "data-kind": d.kind }),
      columns: [
        { key: "kind", label: "Kind", f: fmt.defect },
        { key: "stage", label: "Stage" },
        { key: "sku", label: "SKU" },
        { key: "qty", label: "Qty", num: true },
        { key: "reason", label: "Reason" },
        { key: "created_at", label: "When", f: fmt.short },
      ],
    });
    const overrides = (p.overrides || []).map((o) =>
      make("p", { cls: "override", text: `Released by ${o.by} on ${fmt.when(o.at)}: ${o.reason}` }));
    el.overrides.replaceChildren(...overrides);
  }

  function renderTimeline(p) {
    const items = p.timeline.map((entry) => {
      const li = make("li", { cls: `ev ev-${entry.event}` });
      li.dataset.event = entry.event;
      if (entry.event === "scan" && !/accepted$/.test(entry.detail)) li.classList.add("refused");
      const time = make("time", { text: clock.format(new Date(entry.at)), attrs: { datetime: entry.at } });
      li.append(time, make("span", { cls: "what", text: EVENTS[entry.event] || entry.event }),
        make("span", { cls: "detail", text: entry.detail }));
      return li;
    });
    el.timeline.replaceChildren(...items);
  }

  // ---- complaints -------------------------------------------------------------------------

  function describe(c) {
    const what = KINDS[c.kind] || c.kind;
    return `${what}${c.sku ? ` ${c.sku}` : ""} ×${c.qty}`;
  }

  function flags(c) {
    const out = [];
    if (c.escaped_defects && c.escaped_defects.length) {
      const list = c.escaped_defects.map((d) => `${fmt.defect(d.kind)}${d.sku ? ` ${d.sku}` : ""} ×${d.qty}`);
      out.push(["escaped", `escaped defect recorded: ${list.join(", ")}`]);
    }
    if (c.override_id !== null && c.override_id !== undefined) {
      out.push(["override", `linked to override ${c.override_id}: the parcel was released by a supervisor`]);
    }
    if (c.repeat_claimant) out.push(["repeat", "repeat claimant: look twice"]);
    if (c.evidence_available) out.push(["evidence", "evidence available: the photo shows the item"]);
    return out;
  }

  function complaintCard(c) {
    const card = make("div", { cls: `complaint ${c.status}`, attrs: { tabindex: "-1" } });
    card.dataset.complaint = String(c.id);
    card.dataset.status = c.status;
    const head = make("p", { cls: "c-head" });
    head.append(make("strong", { text: `Complaint ${c.id}: ${describe(c)}` }));
    if (c.id === state.created) {
      card.classList.add("new");
      head.append(make("span", { cls: "pill new", text: "just recorded" }));
    }
    head.append(make("span", { cls: `pill ${c.status}`, text: c.status }));
    card.append(head);
    card.append(make("p", { cls: "meta", text: `recorded by ${c.created_by} on ${fmt.when(c.created_at)}` }));
    if (c.note) card.append(make("p", { cls: "note-text", text: c.note }));
    const list = make("ul", { cls: "flags" });
    for (const [cls, text] of flags(c)) list.append(make("li", { cls: `flag ${cls}`, text }));
    if (list.children.length) card.append(list);
    if (c.status === "resolved") {
      const how = RESOLUTIONS[c.resolution] || c.resolution;
      const by = c.resolved_by ? ` by ${c.resolved_by}` : "";
      const note = c.resolution_note ? `: ${c.resolution_note}` : "";
      card.append(make("p", { cls: "resolution", text: `Resolved (${how})${by} on ${fmt.when(c.resolved_at)}${note}` }));
    } else {
      card.append(resolveForm(c));
    }
    return card;
  }

  function resolveForm(c) {
    const form = make("form", { cls: "resolve", attrs: { "aria-label": `Resolve complaint ${c.id}` } });
    const choice = make("select", { attrs: { name: "resolution", "aria-label": "Resolution" } });
    for (const [value, words] of Object.entries(RESOLUTIONS)) choice.append(new Option(words, value));
    const note = make("input", { attrs: { name: "note", type: "text", maxlength: "2000",
      placeholder: "note (optional)", "aria-label": "Resolution note" } });
    const button = make("button", { text: "Resolve", attrs: { type: "submit" } });
    const error = make("span", { cls: "error", attrs: { role: "alert" } });
    form.append(choice, note, button, error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      const body = { resolution: choice.value };
      if (note.value.trim()) body.note = note.value.trim();
      try {
        const answer = await (await call("PATCH", `/complaints/${c.id}`, { json: body })).json();
        say(`Complaint ${answer.id} resolved: ${RESOLUTIONS[answer.resolution]}.`, "ok");
        await openParcel(state.parcel.id, { keepCreated: true });
        el.complaints.querySelector(`[data-complaint="${answer.id}"]`)?.focus();
      } catch (err) {
        if (refused(err)) return;
        error.textContent = err.message;
        button.disabled = false;
      }
    });
    return form;
  }

  function renderComplaints(p) {
    const list = [...(p.complaints || [])].sort((a, b) => a.id - b.id);
    if (!list.length) {
      el.complaints.replaceChildren(make("p", { cls: "empty", text: "No complaint about this parcel." }));
      return;
    }
    el.complaints.replaceChildren(...list.map(complaintCard));
  }

  function resetForm() {
    el.form.reset();
    el.cError.textContent = "";
    delete el.form.dataset.idempotency;
  }

  async function fileComplaint(event) {
    event.preventDefault();
    if (!state.parcel || !el.form.reportValidity()) return;
    const body = { parcel_id: state.parcel.id, kind: el.cKind.value, qty: Number(el.cQty.value) };
    const sku = el.cSku.value.trim();
    if (sku) body.sku = sku;
    const note = el.cNote.value.trim();
    if (note) body.note = note;
    // One key per complaint as written: a second press after a lost answer replays the
    // first, and any change to the form makes it another complaint.
    el.form.dataset.idempotency = el.form.dataset.idempotency || uuid();
    el.cSubmit.disabled = true;
    el.cError.textContent = "";
    try {
      const response = await call("POST", "/complaints", { json: body, idempotency: el.form.dataset.idempotency });
      const complaint = await response.json();
      resetForm();
      state.created = complaint.id;
      say(`Complaint ${complaint.id} recorded for parcel ${complaint.parcel_id}.`, "ok");
      // The parcel again: its complaints, defects and timeline now include this one.
      await openParcel(state.parcel.id, { keepCreated: true });
      el.complaints.querySelector(".complaint.new")?.focus();
    } catch (err) {
      if (refused(err)) return;
      el.cError.textContent = err.message;
    } finally {
      el.cSubmit.disabled = !state.parcel || state.parcel.status === "packing";
    }
  }

  // ---- evidence ---------------------------------------------------------------------------

  function filename(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const m = /filename="?([^";]+)"?/.exec(header);
    return m ? m[1] : fallback;
  }

  async function downloadEvidence() {
    if (!state.parcel) return;
    const id = state.parcel.id;
    el.evDownload.disabled = true;
    el.evNote.textContent = "Preparing the evidence bundle…";
    try {
      const response = await call("GET", `/parcels/${id}/evidence`, { accept: "application/zip" });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const a = make("a", { attrs: { href: url, download: filename(response, `parcel-${id}-evidence.zip`) } });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      el.evNote.textContent = `Downloaded ${a.download}.`;
    } catch (err) {
      if (refused(err)) return;
      el.evNote.textContent = `The evidence could not be downloaded: ${err.message}`;
    } finally {
      el.evDownload.disabled = false;
    }
  }

  async function shareEvidence() {
    if (!state.parcel) return;
    el.evShare.disabled = true;
    try {
      const response = await call("POST", `/parcels/${state.parcel.id}/evidence/share`, {
        json: { hours: Number(el.evHours.value) },
      });
      const link = await response.json();
      const url = new URL(link.url, window.location.origin).href;
      el.evLink.value = url;
      el.evLink.hidden = false;
      const until = fmt.when(link.expires_at);
      try {
        await navigator.clipboard.writeText(url);
        el.evNote.textContent = `Link copied: anyone holding it can download the evidence until ${until}.`;
      } catch (err) {
        el.evLink.focus();
        el.evLink.select();
        el.evNote.textContent = `Copy the link (Ctrl+C): valid until ${until}.`;
      }
    } catch (err) {
      if (refused(err)) return;
      el.evNote.textContent = `No share link: ${err.message}`;
    } finally {
      el.evShare.disabled = false;
    }
  }

  // ---- log in and out ------------------------------------------------------------------------

  async function login(event) {
    event.preventDefault();
    const user = await office.logIn(el.key, ROLES, "the support desk needs a support or manager key", say);
    if (!user) return;
    const { key, me } = user;
    Object.assign(state, { key, name: me.name, role: me.role });
    store.setItem("qc.support.key", key);
    store.setItem("qc.support.name", me.name);
    store.setItem("qc.support.role", me.role);
    say("");
    enter();
  }

  // A key kept from before a reload is asked about again: it may have been revoked since.
  async function resume() {
    let me;
    try {
      me = await getJson("/me");
    } catch (err) {
      if (refused(err)) return;
      say(`Could not reach the server: ${err.message}`, "bad");
      return;
    }
    if (me.kind !== "user" || !ROLES.has(me.role)) {
      logout();
      say("This key may no longer use the support desk: log in again.", "bad");
      return;
    }
    Object.assign(state, { name: me.name, role: me.role });
    enter();
  }

  async function enter() {
    el.login.hidden = true;
    el.desk.hidden = false;
    el.search.hidden = false;
    el.hint.hidden = false;
    el.logout.hidden = false;
    el.who.textContent = `${state.role === "manager" ? "Manager" : "Support"}: ${state.name}`;
    const q = new URLSearchParams(window.location.search);
    const parcel = Number(q.get("parcel"));
    el.q.value = q.get("q") || "";
    el.q.focus();
    if (el.q.value) await search(el.q.value, { open: !parcel });
    if (parcel > 0 && state.key) await openParcel(parcel);
  }

  function logout() {
    searchGen += 1;
    parcelGen += 1;
    Object.assign(state, { key: null, name: null, role: null, query: "", parcel: null, photo: null, created: null });
    for (const name of ["key", "name", "role"]) store.removeItem(`qc.support.${name}`);
    el.desk.hidden = true;
    el.search.hidden = true;
    el.results.hidden = true;
    el.parcel.hidden = true;
    el.resultsBody.replaceChildren();
    el.login.hidden = false;
    el.logout.hidden = true;
    el.who.textContent = "";
    el.img.removeAttribute("src");
    delete el.viewer.dataset.photos;
    window.history.replaceState(null, "", window.location.pathname);
    say("");
    el.key.focus();
  }

  // ---- wiring ------------------------------------------------------------------------------

  el.login.addEventListener("submit", login);
  el.logout.addEventListener("click", () => {
    logout();
    say("Logged out.");
  });
  el.search.addEventListener("submit", (event) => {
    event.preventDefault();
    search(el.q.value);
  });
  el.q.addEventListener("keydown", resultKeys);
  el.resultsBody.addEventListener("keydown", resultKeys);
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select");
    if (event.key === "/" && !typing && !el.desk.hidden) {
      event.preventDefault();
      el.q.focus();
      el.q.select();
    }
  });
  el.viewer.closest("section").addEventListener("keydown", viewerKeys);
  el.viewer.addEventListener("wheel", wheel, { passive: false });
  el.viewer.addEventListener("pointerdown", dragStart);
  el.viewer.addEventListener("pointermove", dragMove);
  el.viewer.addEventListener("pointerup", dragEnd);
  el.viewer.addEventListener("pointercancel", dragEnd);
  el.zoomIn.addEventListener("click", () => zoomBy(STEP));
  el.zoomOut.addEventListener("click", () => zoomBy(1 / STEP));
  el.zoomFit.addEventListener("click", fit);
  el.showCodes.addEventListener("change", () => {
    el.outlines.classList.toggle("off", !el.showCodes.checked);
  });
  el.img.addEventListener("error", () => {
    if (!el.img.getAttribute("src")) return;
    empty("The photo could not be loaded (its link may have expired): open the parcel again.");
  });
  new ResizeObserver(resized).observe(el.viewer);
  el.form.addEventListener("submit", fileComplaint);
  el.form.addEventListener("input", () => delete el.form.dataset.idempotency);
  el.evDownload.addEventListener("click", downloadEvidence);
  el.evShare.addEventListener("click", shareEvidence);

  if (state.key) {
    resume();
  } else {
    el.key.focus();
  }
})();
